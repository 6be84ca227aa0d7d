"""Unit tests for devhost.routing: route templates matched as the Functions host matches them."""

from __future__ import annotations

import pytest

from devhost.http_triggers import build_routes
from devhost.indexing import IndexedFunction, IndexingError
from devhost.routing import RouteTemplate, RouteTemplateError, ordinal_ignore_case

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


def test_catch_all_constraints_are_checked() -> None:
    assert matches("files/{*path:minlength(5)}", "files/ab") is None
    assert matches("files/{*path:minlength(5)}", "files/abcdef") == {"path": "abcdef"}


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
def test_constraints_parse_values_like_dotnet(constraint: str, value: str, expected: bool) -> None:
    assert check(constraint, value) is expected


def test_regex_constraint_may_contain_an_equals_sign() -> None:
    assert matches("kv/{pair:regex(^\\w+=\\w+$)}", "kv/a=b") == {"pair": "a=b"}


def test_regex_constraint_with_escaped_braces() -> None:
    assert matches("zip/{code:regex(^\\d{{5}}$)}", "zip/12345") == {"code": "12345"}
    assert matches("zip/{code:regex(^\\d{{5}}$)}", "zip/1234") is None


def test_constraint_names_are_case_insensitive() -> None:
    assert matches("n/{id:Int}", "n/3") == {"id": "3"}


# -- .NET value parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "value", "expected"),
    [
        pytest.param("int", " 42 ", True, id="int-surrounding-number-whitespace"),
        pytest.param("int", "\t-7", True, id="int-leading-tab"),
        pytest.param("int", "+-5", False, id="int-two-signs"),
        pytest.param("int", "1_000", False, id="int-underscore"),
        pytest.param("int", "5\u00a0", False, id="int-nbsp-is-not-number-whitespace"),
        pytest.param("long", "+" + str(2**63 - 1), True, id="long-max-with-plus"),
        pytest.param("long", str(-(2**63) - 1), False, id="long-below-min"),
        pytest.param("min(-5)", "+0", True, id="min-plus-zero"),
        pytest.param("max(5)", "\u0663", False, id="max-arabic-indic-digit"),
        pytest.param("bool", " true ", True, id="bool-trimmed"),
    ],
)
def test_numbers_and_booleans_parse_like_dotnet(
    constraint: str, value: str, expected: bool
) -> None:
    assert check(constraint, value) is expected


GUID_N = GUID.replace("-", "")
GUID_X = "{0xd3b07384,0xd9a0,0x4c5b,{0x9f,0x6e,0x2b,0x1f,0x3c,0x4d,0x5e,0x6f}}"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(GUID_N, id="N"),
        pytest.param(GUID, id="D"),
        pytest.param("{" + GUID + "}", id="B"),
        pytest.param("(" + GUID + ")", id="P"),
        pytest.param(GUID_X, id="X"),
        pytest.param(GUID_X.replace(",", ", ").upper(), id="X-spaces-and-upper-case"),
        pytest.param("{0x1,0x2,0x3,{0x4,0x5,0x6,0x7,0x8,0x9,0xa,0xb}}", id="X-short-components"),
        pytest.param(" " + GUID + "\t", id="D-trimmed"),
        pytest.param("+0x07384-d9a0-4c5b-9f6e-2b1f3c4d5e6f", id="D-compat-prefixes"),
    ],
)
def test_guid_accepts_what_guid_tryparse_accepts(value: str) -> None:
    assert check("guid", value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("urn:uuid:" + GUID, id="urn-with-dashes"),
        pytest.param(GUID_N[:-1], id="N-too-short"),
        pytest.param(GUID_N[:-1] + "g", id="N-not-hex"),
        pytest.param(GUID.replace("-", "", 1) + "0", id="D-dash-misplaced"),
        pytest.param("{" + GUID + ")", id="mismatched-brackets"),
        pytest.param(GUID[:28] + "+0x4d5e6f", id="D-prefix-in-last-group"),
        pytest.param(GUID_X.replace("0x6f", "0x16f"), id="X-byte-overflow"),
        pytest.param(GUID_X[:-1], id="X-unterminated"),
        pytest.param(GUID_X + "}", id="X-trailing-junk"),
    ],
)
def test_guid_rejects_what_guid_tryparse_rejects(value: str) -> None:
    assert not check("guid", value)


def test_lengths_count_utf16_code_units_like_dotnet() -> None:
    assert check("maxlength(2)", "\U0001f600")  # one emoji, two UTF-16 units
    assert not check("maxlength(1)", "\U0001f600")
    assert check("length(2)", "\U0001f600")


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("required", ["x"], []),
        ("file", ["a.txt", ".gitignore", "a.b.c"], ["abc", "a.", "a.."]),
        ("nonfile", ["abc", "a."], ["a.txt"]),
    ],
)
def test_required_file_and_nonfile_constraints(
    constraint: str, good: list[str], bad: list[str]
) -> None:
    assert [v for v in good if not check(constraint, v)] == []
    assert [v for v in bad if check(constraint, v)] == []


def test_file_constraint_looks_at_the_last_segment_of_a_catch_all() -> None:
    assert matches("static/{*path:file}", "static/css/site.css") == {"path": "css/site.css"}
    assert matches("static/{*path:file}", "static/a.b/c") is None
    assert matches("static/{*path:file}", "static") is None


def test_nonfile_lets_an_empty_catch_all_through() -> None:
    # NonFileNameRouteConstraint returns true for a missing value; the others return false.
    assert matches("app/{*path:nonfile}", "app") == {}
    assert matches("app/{*path:nonfile}", "app/a/b") == {"path": "a/b"}
    assert matches("app/{*path:nonfile}", "app/main.js") is None
    assert matches("app/{*path:nonfile:required}", "app") is None


def test_constraint_arguments_are_trimmed_where_dotnet_splits_them() -> None:
    assert check("length( 2 , 4 )", "abc")
    assert check("range(1, 3)", "2")
    assert check("minlength( 2 )", "ab")


# -- more template syntax ----------------------------------------------------------------------


def test_catch_all_keeps_a_trailing_slash_and_inner_empty_segments() -> None:
    # RoutePatternMatcher captures the rest of the path from the catch-all's segment on.
    assert matches("files/{*path}", "files/a/b/") == {"path": "a/b/"}
    assert matches("files/{*path}", "files/a//b") == {"path": "a//b"}
    assert matches("files/{*path}", "files//b") is None


def test_a_constrained_catch_all_without_a_value_does_not_match() -> None:
    # A catch-all is not an optional parameter, so its constraints see a null value and fail.
    assert matches("files/{*path:minlength(1)}", "files") is None
    assert matches("files/{*path:minlength(1)=index}", "files") == {"path": "index"}


def test_constraints_also_check_a_default_value() -> None:
    assert matches("page/{n:int=x}", "page") is None
    assert matches("page/{n:int=x}", "page/3") == {"n": "3"}


def test_empty_path_segments_never_match() -> None:
    assert matches("a/{x?}", "a//") is None
    assert matches("{x}/b", "//b") is None


def test_parameter_names_may_use_any_character_but_separators() -> None:
    assert matches("users/{user-id}", "users/7") == {"user-id": "7"}
    assert matches("users/{user.id:int}", "users/7") == {"user.id": "7"}


def test_escaped_braces_in_a_literal() -> None:
    assert matches("a/{{x}}", "a/{x}") == {}
    assert matches("a/{{x}}", "a/x") is None


def test_constraint_name_lookup_is_case_insensitive_for_arguments_too() -> None:
    assert matches("n/{id:MinLength(2)}", "n/ab") == {"id": "ab"}
    assert matches("n/{id:REGEX(^a)}", "n/Abc") == {"id": "Abc"}


def test_ordinal_ignore_case_upper_cases_like_dotnet() -> None:
    assert ordinal_ignore_case("Route_b") == "ROUTE_B"
    assert ordinal_ignore_case("stra\u00dfe") == "STRA\u00dfE"  # no 'SS' expansion


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
        "a//b",  # consecutive separators
        "a/{id:int()}",  # an empty argument list is still an argument
        "a/{id:minlength}",  # minlength needs its argument
        "a/{id:range(5,1)}",  # min above max
        "a/{id:length(-1)}",
        "a/{id:regex([)}",  # not a valid regular expression
        "a/{*}",  # a catch-all without a name
        "a/{id:regex(^\\d{3}$)}",  # an unescaped '{' inside a parameter
        "a/{x}/{X}",  # names compare case-insensitively
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
def test_templates_the_host_refuses_raise(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(template)


# -- route order (devhost.http_triggers.build_routes) ------------------------------------------


def http_function(name: str, route: str | None) -> IndexedFunction:
    binding = {"type": "httpTrigger", "name": "req", "direction": "IN", "route": route}
    return IndexedFunction(name, name, lambda req: None, [binding], {}, False, False)


def test_routes_are_ordered_by_function_name_like_ordinal_ignore_case() -> None:
    """FunctionMetadataManager orders by name with StringComparer.OrdinalIgnoreCase, which
    compares upper-cased names: 'TIEA' < 'TIE_B' because 'A' (0x41) < '_' (0x5F)."""
    names = ["tie_b", "zulu", "Bravo", "tieA", "alpha"]
    activity = IndexedFunction(
        "aaa", "aaa", lambda x: x, [{"type": "activityTrigger", "name": "x"}], {}, False, False
    )
    routes = build_routes([http_function(n, f"r/{n}") for n in names] + [activity])
    assert [r.function.name for r in routes] == ["alpha", "Bravo", "tieA", "tie_b", "zulu"]


def test_no_route_means_the_function_name() -> None:
    (route,) = build_routes([http_function("Health", None)])
    assert route.template.match("health") == {}


def test_an_invalid_route_is_an_indexing_error_naming_the_function() -> None:
    with pytest.raises(IndexingError, match="Function 'broken' has an invalid route"):
        build_routes([http_function("broken", "a/{id:nope}")])
