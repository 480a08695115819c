"""Government-service catalogue: reference model, entry generator, Chinese text
analysis, tantivy index and the search service behind 蒙速办.

Plain Python on purpose: the HTTP layer imports `catalog.service.Catalogue`
and maps `catalog.errors.CatalogError` to responses; nothing here knows Flask.
"""
