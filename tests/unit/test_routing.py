"""Unit tests for devhost.routing: route templates matched as the Functions host matches them."""

from __future__ import annotations

import pytest

from devhost.routing import RouteTemplate, RouteTemplateError

GUID = "d3b07384-d9a0-4c5b-9f6e-2b1f3c4d5e6f"


def matches(template: str, path: str) -> dict[str, str] | None:
    return RouteTemplate(template).match(path)


# -- literals and plain parameters -----------------------------------------------------------


def test_literal_template_matches_only_itself() -> None:
    assert matches("health", "health") == {}
    assert matches("health", "healthz") is None
    assert matches("health", "health/extra") is None
    assert matches("health", "") is None


def test_literals_match_case_insensitively_and_values_keep_their_case() -> None:
    assert matches("Users/{name}", "users/AdA") == {"name": "AdA"}
    assert matches("users/{name}", "USERS/Bob") == {"name": "Bob"}


def test_slashes_around_template_and_path_are_ignored() -> None:
    assert matches("/orders/{id}/", "orders/7") == {"id": "7"}
    assert matches("orders/{id}", "/orders/7/") == {"id": "7"}
    assert RouteTemplate("/orders/{id}/").template == "orders/{id}"


def test_several_parameters_each_take_one_segment() -> None:
    assert matches("{tenant}/orders/{id}", "acme/orders/42") == {"tenant": "acme", "id": "42"}
    assert matches("{tenant}/orders/{id}", "acme/orders") is None
    assert matches("{tenant}/orders/{id}", "acme/orders/42/lines") is None


def test_a_required_parameter_never_matches_an_empty_segment() -> None:
    assert matches("a/{x}", "a//") is None
    assert matches("a/{x}/b", "a//b") is None


def test_empty_template_matches_the_bare_prefix() -> None:
    assert matches("", "") == {}
    assert matches("", "anything") is None


# -- optional parameters and defaults --------------------------------------------------------


def test_optional_parameter_may_be_absent() -> None:
    assert matches("items/{id?}", "items") == {}
    assert matches("items/{id?}", "items/9") == {"id": "9"}
    assert matches("items/{id?}", "items/9/10") is None


def test_trailing_optionals_can_all_be_absent() -> None:
    assert matches("r/{a?}/{b?}", "r") == {}
    assert matches("r/{a?}/{b?}", "r/1") == {"a": "1"}
    assert matches("r/{a?}/{b?}", "r/1/2") == {"a": "1", "b": "2"}


def test_default_value_fills_a_missing_segment() -> None:
    assert matches("page/{n=5}", "page") == {"n": "5"}
    assert matches("page/{n=5}", "page/2") == {"n": "2"}
    assert matches("page/{n:int=5}", "page") == {"n": "5"}
    assert matches("page/{n:int=5}", "page/x") is None


def test_defaults_after_an_absent_optional_are_still_applied() -> None:
    assert matches("a/{x=5}/{y?}", "a") == {"x": "5"}
    assert matches("a/{x?}/{y=7}", "a") == {"y": "7"}


def test_an_optional_in_the_middle_does_not_let_later_required_segments_go() -> None:
    assert matches("a/{x?}/b", "a/1/b") == {"x": "1"}
    assert matches("a/{x?}/b", "a") is None


# -- catch-all -------------------------------------------------------------------------------


def test_catch_all_takes_the_rest_of_the_path() -> None:
    assert matches("files/{*path}", "files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert matches("files/{*path}", "files/one") == {"path": "one"}


def test_catch_all_may_be_empty() -> None:
    assert matches("files/{*path}", "files") == {}
    assert matches("files/{*path}", "files/") == {}


def test_catch_all_with_default() -> None:
    assert matches("files/{*path=index.html}", "files") == {"path": "index.html"}
    assert matches("files/{*path=index.html}", "files/x/y") == {"path": "x/y"}


def test_catch_all_still_needs_the_segments_before_it() -> None:
    assert matches("a/b/{*rest}", "a") is None
    assert matches("a/b/{*rest}", "a/c/d") is None


@pytest.mark.xfail(
    reason="routing.py RouteTemplate.match returns at a catch-all without running seg.checks; "
    "ASP.NET applies constraints to catch-all values too",
    strict=True,
)
def test_catch_all_constraints_are_checked() -> None:
    assert matches("files/{*path:minlength(5)}", "files/ab") is None
    assert matches("files/{*path:minlength(5)}", "files/abcdef") == {"path": "abcdef"}


@pytest.mark.xfail(
    reason="ASP.NET Core also accepts '{**name}' (a catch-all that keeps slashes unencoded "
    "when generating links); routing.py's _PARAM accepts a single '*' only",
    strict=True,
)
def test_double_star_catch_all() -> None:
    assert matches("files/{**path}", "files/a/b") == {"path": "a/b"}


# -- constraints -----------------------------------------------------------------------------


def check(constraint: str, value: str) -> bool:
    return matches(f"x/{{v:{constraint}}}", f"x/{value}") is not None


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("int", ["0", "42", "-7", str(2**31 - 1), str(-(2**31))], ["4a", "4.5", str(2**31), "x"]),
        ("long", [str(2**40), str(-(2**63)), "5"], [str(2**63), "1e3", "abc"]),
        ("alpha", ["abc", "ABC", "aBc"], ["ab1", "é", "a-b", "a_b"]),
        ("bool", ["true", "False", "TRUE"], ["yes", "1", "t"]),
        ("guid", [GUID, GUID.upper(), GUID.replace("-", ""), "{" + GUID + "}"], ["nope", "1234"]),
        ("double", ["1.5", "-2", "3e4"], ["abc", "1.2.3"]),
        ("float", ["1.5"], ["x"]),
        ("decimal", ["10.25"], ["ten"]),
        ("datetime", ["2024-05-01", "2024-05-01T10:30:00"], ["notadate", "2024-13-01"]),
        ("min(10)", ["10", "11", "1000"], ["9", "-10", "abc"]),
        ("max(10)", ["10", "-3", "0"], ["11", "abc"]),
        ("range(1,3)", ["1", "2", "3"], ["0", "4", "two"]),
        ("length(3)", ["abc", "123"], ["ab", "abcd"]),
        ("length(2,4)", ["ab", "abcd"], ["a", "abcde"]),
        ("minlength(2)", ["ab", "abcdef"], ["a"]),
        ("maxlength(3)", ["a", "abc"], ["abcd"]),
        ("regex(^[a-z]+\\d$)", ["abc1", "ABC1"], ["abc", "1abc1"]),
        ("regex(\\d)", ["a1b"], ["abc"]),  # unanchored, like .NET Regex.IsMatch
        ("regex(^(red|green)$)", ["red", "Green"], ["blue", "redgreen"]),
    ],
)
def test_constraint_accepts_and_rejects(constraint: str, good: list[str], bad: list[str]) -> None:
    assert [v for v in good if not check(constraint, v)] == []
    assert [v for v in bad if check(constraint, v)] == []


def test_several_constraints_must_all_hold() -> None:
    assert check("int:min(1)", "5")
    assert not check("int:min(1)", "0")
    assert not check("alpha:maxlength(3)", "abcd")
    assert check("alpha:maxlength(3)", "abc")


def test_regex_constraint_may_contain_colons_and_parentheses() -> None:
    assert matches("t/{at:regex(^\\d\\d:\\d\\d$)}", "t/10:30") == {"at": "10:30"}
    assert matches("t/{at:regex(^\\d\\d:\\d\\d$)}", "t/1030") is None


def test_optional_constrained_parameter() -> None:
    assert matches("n/{id:int?}", "n") == {}
    assert matches("n/{id:int?}", "n/3") == {"id": "3"}
    assert matches("n/{id:int?}", "n/x") is None


@pytest.mark.parametrize(
    ("constraint", "value", "expected"),
    [
        pytest.param("int", "+5", True, id="int-leading-plus"),
        pytest.param("int", "\u0663", False, id="int-arabic-indic-digit"),
        pytest.param("guid", "urn:uuid:" + GUID.replace("-", ""), False, id="guid-urn"),
    ],
)
@pytest.mark.xfail(
    reason="routing.py parses int with r'^-?\\d+$' (no '+', any Unicode digit) and guid with "
    "uuid.UUID (accepts 'urn:uuid:'); ASP.NET uses int.TryParse(NumberStyles.Integer, "
    "InvariantCulture) and Guid.TryParse",
    strict=True,
)
def test_constraints_parse_values_like_dotnet(constraint: str, value: str, expected: bool) -> None:
    assert check(constraint, value) is expected


@pytest.mark.xfail(
    reason="routing.py _split_constraints splits on the first '=' anywhere, even inside a "
    "regex(...) argument, so the regex is cut and the template is refused",
    strict=True,
)
def test_regex_constraint_may_contain_an_equals_sign() -> None:
    assert matches("kv/{pair:regex(^\\w+=\\w+$)}", "kv/a=b") == {"pair": "a=b"}


@pytest.mark.xfail(
    reason="ASP.NET route templates escape braces inside a regex by doubling them "
    "('{{3}}'); routing.py's _PARAM stops at the first '}' and refuses the template",
    strict=True,
)
def test_regex_constraint_with_escaped_braces() -> None:
    assert matches("zip/{code:regex(^\\d{{5}}$)}", "zip/12345") == {"code": "12345"}
    assert matches("zip/{code:regex(^\\d{{5}}$)}", "zip/1234") is None


@pytest.mark.xfail(
    reason="ASP.NET resolves constraint names case-insensitively (RouteOptions.ConstraintMap "
    "uses OrdinalIgnoreCase); routing.py's _constraint accepts lowercase names only",
    strict=True,
)
def test_constraint_names_are_case_insensitive() -> None:
    assert matches("n/{id:Int}", "n/3") == {"id": "3"}


# -- precedence ------------------------------------------------------------------------------


def test_precedence_orders_literal_constrained_plain_catch_all() -> None:
    templates = ["things/{*rest}", "things/{name}", "things/{id:int}", "things/latest"]
    ordered = sorted(templates, key=lambda t: RouteTemplate(t).precedence)
    assert ordered == ["things/latest", "things/{id:int}", "things/{name}", "things/{*rest}"]


def test_precedence_compares_segment_by_segment() -> None:
    assert RouteTemplate("a/{x}").precedence < RouteTemplate("{x}/a").precedence
    assert RouteTemplate("a/b/{x}").precedence < RouteTemplate("a/{x}/b").precedence


# -- invalid templates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "a/{id",  # unclosed
        "a/id}",  # stray closing brace
        "a/{}",  # no name
        "a/{id}{name}",  # two parameters in one segment
        "a/pre{id}",  # a parameter sharing a segment with a literal
        "a/{*rest}/b",  # catch-all not last
        "a/{id:unknown}",  # unknown constraint
        "a/{id:int(3)}",  # int takes no argument
        "a/{id:min(x)}",  # bad argument
        "a/{id:range(5)}",  # range needs two bounds
        "a/{id:length(3,a)}",
        "a/{id:length()}",
        "a/{id:regex(}",
    ],
)
def test_invalid_templates_raise(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(template)


def test_route_template_error_is_a_value_error_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="catch-all must be last"):
        RouteTemplate("a/{*rest}/b")
    with pytest.raises(RouteTemplateError, match="'unknown'"):
        RouteTemplate("a/{id:unknown}")


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("a/{id}/{id}", id="duplicate-parameter-name"),
        pytest.param("a/{*rest?}", id="optional-catch-all"),
        pytest.param("a/{x=1?}", id="optional-with-default"),
        pytest.param("a?b", id="question-mark-in-literal"),
    ],
)
@pytest.mark.xfail(
    reason="ASP.NET's route template parser refuses these templates (duplicate name, optional "
    "catch-all, optional with a default, '?' in a literal); routing.py accepts them",
    strict=True,
)
def test_templates_the_host_refuses_raise(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(template)
