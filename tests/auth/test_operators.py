import threading

import psycopg
import pytest

from auth.errors import AccountLocked, InvalidInput, OperatorRoleRequired, RateLimited, TokenInvalid
from auth.errors import OperatorCredentialsInvalid

IP = "198.51.100.4"
PASSWORD = "correct horse battery"
CONSOLE = ["msb-console"]


@pytest.fixture
def editor(service):
    return service.operators.create("editor.li", PASSWORD, ["editor"])


def test_operator_login_gets_a_console_token(service, editor):
    pair = service.login_operator("Editor.Li", PASSWORD, client_ip=IP)
    assert pair.to_dict()["account"] == {
        "id": editor.operator_id,
        "type": "operator",
        "realname_level": None,
        "bindings": [],
    }
    principal = service.authenticate_access_token(pair.access_token, audiences=CONSOLE)
    assert (principal.type, principal.channel, principal.roles) == ("operator", "console", ("editor",))
    service.require_role(principal, "editor")
    with pytest.raises(OperatorRoleRequired) as caught:
        service.require_role(principal, "approver")
    assert caught.value.details == {"required_role": "approver"} and caught.value.http_status == 403


def test_password_is_argon2id_hashed(service, editor, database):
    with database.transaction() as conn:
        stored = conn.execute("SELECT password_hash FROM operators WHERE operator_id = %s",
                              (editor.operator_id,)).fetchone()["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_console_and_citizen_tokens_do_not_cross(service, editor, wechat):
    operator_pair = service.login_operator("editor.li", PASSWORD, client_ip=IP)
    citizen_pair = service.login_wechat(wechat.login_code("o-cross"), client_ip=IP)
    with pytest.raises(TokenInvalid):
        service.authenticate_access_token(operator_pair.access_token, audiences=["msb-app", "msb-wechat", "msb-alipay"])
    with pytest.raises(TokenInvalid):
        service.authenticate_access_token(citizen_pair.access_token, audiences=CONSOLE)
    citizen = service.authenticate_access_token(citizen_pair.access_token, audiences=["msb-wechat"])
    with pytest.raises(OperatorRoleRequired):
        service.require_role(citizen, "editor")


def test_wrong_password_and_unknown_user_look_the_same(service, editor):
    with pytest.raises(OperatorCredentialsInvalid) as wrong:
        service.login_operator("editor.li", "wrong password!!", client_ip=IP)
    with pytest.raises(OperatorCredentialsInvalid) as unknown:
        service.login_operator("nobody", PASSWORD, client_ip=IP)
    assert (wrong.value.code, wrong.value.message, wrong.value.http_status) == (
        unknown.value.code,
        unknown.value.message,
        401,
    )


@pytest.mark.parametrize("username", ["editor.li", "ghost"])
def test_five_failures_lock_for_fifteen_minutes(service, editor, clock, username):
    for _ in range(4):
        with pytest.raises(OperatorCredentialsInvalid):
            service.login_operator(username, "wrong password!!", client_ip=IP)
    with pytest.raises(AccountLocked) as caught:
        service.login_operator(username, "wrong password!!", client_ip=IP)
    assert caught.value.retry_after == 900
    with pytest.raises(AccountLocked):
        service.login_operator(username, PASSWORD, client_ip=IP)
    clock.advance(900)
    if username == "editor.li":
        assert service.login_operator(username, PASSWORD, client_ip=IP)


def test_success_resets_the_failure_count(service, editor):
    for _ in range(4):
        with pytest.raises(OperatorCredentialsInvalid):
            service.login_operator("editor.li", "wrong password!!", client_ip=IP)
    service.login_operator("editor.li", PASSWORD, client_ip=IP)
    with pytest.raises(OperatorCredentialsInvalid):
        service.login_operator("editor.li", "wrong password!!", client_ip=IP)


def test_per_ip_limit(service, editor):
    for index in range(20):
        with pytest.raises(OperatorCredentialsInvalid):
            service.login_operator(f"user{index}", PASSWORD, client_ip=IP)
    with pytest.raises(RateLimited):
        service.login_operator("editor.li", PASSWORD, client_ip=IP)


def test_disabling_ends_sessions_at_once(service, editor):
    pair = service.login_operator("editor.li", PASSWORD, client_ip=IP)
    service.operators.set_disabled(editor.operator_id, True)
    with pytest.raises(TokenInvalid):
        service.authenticate_access_token(pair.access_token, audiences=CONSOLE)
    with pytest.raises(Exception) as caught:
        service.refresh(pair.refresh_token)
    assert caught.value.code == "refresh_token_invalid"


def test_console_sessions_are_short(service, editor, clock):
    pair = service.login_operator("editor.li", PASSWORD, client_ip=IP)
    clock.advance(31 * 60)
    with pytest.raises(Exception) as caught:
        service.refresh(pair.refresh_token)
    assert caught.value.code == "refresh_token_expired"


@pytest.mark.parametrize(
    ("username", "password", "roles", "field"),
    [
        ("ab", PASSWORD, ["editor"], "username"),
        ("Has Space", PASSWORD, ["editor"], "username"),
        ("valid.name", "short", ["editor"], "password"),
        ("valid.name", PASSWORD, ["root"], "roles"),
        ("valid.name", PASSWORD, [], "roles"),
        ("editor.li", PASSWORD, ["editor"], "username"),  # taken
    ],
)
def test_create_validation(service, editor, username, password, roles, field):
    with pytest.raises(InvalidInput) as caught:
        service.operators.create(username, password, roles)
    assert caught.value.details == {"field": field}


def test_same_username_created_at_once_is_refused_by_the_database(service):
    attempts = 4
    start = threading.Barrier(attempts)
    created, refused = [], []

    def create(index: int) -> None:
        start.wait()
        try:
            created.append(service.operators.create("racer.zhao", PASSWORD, ["editor"]))
        except InvalidInput as exc:
            refused.append(exc.details)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1 and refused == [{"field": "username"}] * (attempts - 1)
    assert service.operators.get(created[0].operator_id).username == "racer.zhao"


def test_the_username_constraint_itself_refuses_a_second_row(service, editor, database):
    with pytest.raises(psycopg.errors.UniqueViolation):
        with database.transaction() as conn:
            conn.execute("INSERT INTO operators (operator_id, username, password_hash, roles, created_at) "
                         "VALUES ('op_other', 'editor.li', 'x', ARRAY['editor'], now())")


def test_a_stale_hash_is_replaced_on_login(service, editor, database):
    from argon2 import PasswordHasher

    from tests.auth.conftest import FAST_HASHER

    stronger = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    service.operators._hasher = stronger  # noqa: SLF001 — the parameters changed since the operator was created
    assert service.login_operator("editor.li", PASSWORD, client_ip=IP)
    with database.transaction() as conn:
        stored = conn.execute("SELECT password_hash FROM operators WHERE operator_id = %s",
                              (editor.operator_id,)).fetchone()["password_hash"]
    assert not stronger.check_needs_rehash(stored) and FAST_HASHER.check_needs_rehash(stored)
    assert service.login_operator("editor.li", PASSWORD, client_ip=IP)
