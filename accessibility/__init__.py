"""Elder-friendly mode (长辈版) and Mongolian transforms (issue: home, elder mode, cache); not built yet."""
