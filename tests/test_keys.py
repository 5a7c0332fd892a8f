"""Cache keys: built in one place, always under the course prefix."""

import pytest

from cachelab import keys


def test_product_key_names_the_product():
    assert keys.product(42) == "product:42"


def test_product_key_is_the_same_for_an_int_and_its_string():
    assert keys.product("42") == keys.product(42)


def test_trending_key_names_its_parameters():
    assert keys.trending() == "trending:days=7:limit=10"
    assert keys.trending(days=30, limit=5) == "trending:days=30:limit=5"


def test_different_trending_parameters_give_different_keys():
    assert keys.trending(7, 10) != keys.trending(7, 5)


def test_versioned_key_appends_the_version():
    assert keys.versioned("product:42", 3) == "product:42:v3"


def test_version_counter_key_is_distinct_from_the_key_it_counts():
    assert keys.version_counter("product:42") == "version:product:42"


def test_course_prefix_is_cachelab():
    assert keys.COURSE_PREFIX == "cachelab:"


@pytest.mark.parametrize("prefix", ["cachelab:", "cachelab:mine:", "cachelab:test:abc:"])
def test_check_prefix_accepts_prefixes_under_the_course_prefix(prefix):
    assert keys.check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "mine:", "cachelabX:", "CACHELAB:", "other:cachelab:", None, 42])
def test_check_prefix_rejects_anything_outside_the_course_prefix(prefix):
    with pytest.raises(ValueError, match="cachelab:"):
        keys.check_prefix(prefix)


def test_redis_key_puts_the_logical_key_under_the_prefix():
    assert keys.redis_key("cachelab:", "product:42") == "cachelab:product:42"


@pytest.mark.parametrize("key", ["", None, 42, b"product:1"])
def test_redis_key_rejects_keys_that_are_not_non_empty_strings(key):
    with pytest.raises(TypeError, match="non-empty strings"):
        keys.redis_key("cachelab:", key)


def test_scan_pattern_of_a_plain_prefix_is_the_prefix_and_a_star():
    assert keys.scan_pattern("cachelab:test:") == "cachelab:test:*"


def test_scan_pattern_escapes_glob_characters():
    assert keys.scan_pattern("cachelab:[a]*?:") == "cachelab:\\[a\\]\\*\\?:*"
