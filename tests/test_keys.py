"""Cache keys: built in one place, under a learner's prefix that can never cover another's."""

import warnings

import pytest

from cachelab import keys


def test_product_key_names_the_product():
    assert keys.product(42) == "product:42"


@pytest.mark.parametrize(
    "product_id, error",
    [
        (1.9, TypeError),
        (True, TypeError),
        ("42", TypeError),
        (" 1 ", TypeError),
        (0, ValueError),
        (-3, ValueError),
    ],
)
def test_a_product_key_is_only_made_from_a_whole_number_id(product_id, error):
    """``product(1.9)`` used to be ``product:1``, so a read of 1.9 served product 1."""
    with pytest.raises(error, match="product_id must be a whole number >= 1"):
        keys.product(product_id)


def test_trending_key_names_its_parameters():
    assert keys.trending() == "trending:days=7:limit=10"
    assert keys.trending(days=30, limit=5) == "trending:days=30:limit=5"


def test_a_users_notifications_key_names_the_user_and_refuses_a_bad_id():
    assert keys.notifications(3) == "notifications:user=3"
    with pytest.raises(TypeError, match="user_id must be a whole number"):
        keys.notifications("3")


def test_different_trending_parameters_give_different_keys():
    assert keys.trending(7, 10) != keys.trending(7, 5)


def test_versioned_key_appends_the_version():
    assert keys.versioned("product:42", 3) == "product:42:v3"


def test_lease_lock_and_version_keys_never_collide_with_the_key_they_serve():
    derived = {
        keys._version_counter("product:42"),
        keys.lease("product:42"),
        keys.lock("product:42"),
        keys.refresh_lock("product:42"),
        keys._early_refresh("product:42"),
        keys._stale_while_revalidate("product:42"),
    }
    assert len(derived) == 6 and "product:42" not in derived


def test_the_stampede_guards_keys_name_the_key_they_guard():
    assert keys.refresh_lock("product:42") == "refresh:product:42"
    assert keys._early_refresh(keys.trending()) == "xfetch:trending:days=7:limit=10"
    assert keys._stale_while_revalidate("product:42") == "swr:product:42"
    with pytest.raises(ValueError, match="cache keys are"):
        keys._early_refresh("")


# --- whose keys -----------------------------------------------------------------------------------


def test_the_learner_name_comes_from_cachelab_learner_first(monkeypatch):
    monkeypatch.setenv("CACHELAB_LEARNER", "ada")
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    assert keys._learner_name() == "ada"
    assert keys.learner_prefix() == "cachelab:ada:"


def test_then_from_jupyterhub_user_then_the_login_name(monkeypatch):
    import getpass

    monkeypatch.delenv("CACHELAB_LEARNER", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    assert keys._learner_name() == "grace"
    monkeypatch.delenv("JUPYTERHUB_USER")
    monkeypatch.setattr(getpass, "getuser", lambda: "linus")
    assert keys._learner_name() == "linus"


@pytest.fixture
def login_jovyan(monkeypatch):
    """A learner on Binder: no CACHELAB_LEARNER, no JUPYTERHUB_USER, logged in as ``jovyan``
    (as every Binder user is); the once-per-name warning forgotten."""
    import getpass

    monkeypatch.delenv("CACHELAB_LEARNER", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "jovyan")
    keys._warn_login_name_on_a_shared_server.cache_clear()
    yield
    keys._warn_login_name_on_a_shared_server.cache_clear()


def test_a_login_name_on_a_shared_server_is_warned_about_once_with_the_fix(
    login_jovyan, monkeypatch
):
    monkeypatch.setenv("REDIS_URL", "redis://room.example:6379/0")
    with pytest.warns(UserWarning) as warned:
        assert keys.learner_prefix() == "cachelab:jovyan:"
    [warning] = warned
    message = str(warning.message)
    assert "'jovyan'" in message and "share the prefix 'cachelab:jovyan:'" in message
    assert "export CACHELAB_LEARNER=" in message and "os.environ['CACHELAB_LEARNER']" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second time, nothing: once is enough
        assert keys.learner_prefix() == "cachelab:jovyan:"


@pytest.mark.parametrize(
    "variable, value", [("CACHELAB_LEARNER", "ada"), ("JUPYTERHUB_USER", "grace"), (None, None)]
)
def test_a_chosen_name_or_a_private_server_is_not_warned_about(
    login_jovyan, monkeypatch, variable, value
):
    if variable:  # a name chosen for this learner, on the shared server
        monkeypatch.setenv("REDIS_URL", "redis://room.example:6379/0")
        monkeypatch.setenv(variable, value)
    else:  # the login name, on a private server of one's own
        monkeypatch.delenv("REDIS_URL", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert keys.learner_prefix() == f"cachelab:{value or 'jovyan'}:"


@pytest.mark.parametrize(
    "name", ["a*", "b?", "c[d]", "e\\f", "g:h", "", "with space", "-dash-first", "x" * 65, "é"]
)
def test_a_learner_name_that_could_widen_a_scan_or_nest_a_prefix_is_refused(monkeypatch, name):
    monkeypatch.setenv("CACHELAB_LEARNER", name)
    if name == "":  # an empty variable is not set: the next source is used
        assert keys._learner_name()
        return
    with pytest.raises(ValueError, match="CACHELAB_LEARNER"):
        keys._learner_name()
    with pytest.raises(ValueError, match="a learner name is"):
        keys.learner_prefix(name)


@pytest.mark.parametrize("name", ["ada", "Ada.Lovelace", "ada@example.org", "learner-07", "a_b+c"])
def test_ordinary_names_email_addresses_and_numbers_are_fine(name):
    assert keys.learner_prefix(name) == f"cachelab:{name}:"


def test_no_learner_prefix_is_the_start_of_another_learners(monkeypatch):
    prefixes = [keys.learner_prefix(name) for name in ("a", "a1", "a10", "ab", "a.b")]
    for one in prefixes:
        for other in prefixes:
            assert one == other or not other.startswith(one)


# --- prefixes and Redis keys ----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["cachelab:", "cachelab:mine:", "cachelab:ada:test:abc:"])
def test_validate_prefix_accepts_prefixes_under_the_course_prefix_ending_with_a_colon(prefix):
    assert keys._validate_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["", "mine:", "cachelabX:", "CACHELAB:", "other:cachelab:", None, 42]
)
def test_validate_prefix_rejects_anything_outside_the_course_prefix(prefix):
    with pytest.raises(ValueError, match="must start with 'cachelab:'"):
        keys._validate_prefix(prefix)


@pytest.mark.parametrize("prefix", ["cachelab:1", "cachelab:ada", "cachelab:ada:test"])
def test_validate_prefix_rejects_a_prefix_that_could_be_the_start_of_another(prefix):
    with pytest.raises(ValueError, match="must end with ':'"):
        keys._validate_prefix(prefix)


def test_redis_key_puts_the_logical_key_under_the_prefix():
    assert keys._redis_key("cachelab:ada:", "product:42") == "cachelab:ada:product:42"


@pytest.mark.parametrize(
    "key, error",
    [
        ("", ValueError),
        (None, TypeError),
        (42, TypeError),
        (b"product:1", TypeError),
        ("line\nbreak", ValueError),
    ],
)
def test_redis_key_rejects_keys_that_are_not_printable_non_empty_strings(key, error):
    with pytest.raises(error, match="cache keys are"):
        keys._redis_key("cachelab:", key)


def test_scan_pattern_of_a_plain_prefix_is_the_prefix_and_a_star():
    assert keys._scan_pattern("cachelab:test:") == "cachelab:test:*"


def test_scan_pattern_escapes_glob_characters():
    assert keys._scan_pattern("cachelab:[a]*?:") == "cachelab:\\[a\\]\\*\\?:*"


@pytest.mark.parametrize("name", [42, b"ada", ["ada"]])
def test_a_learner_name_that_is_not_a_string_is_a_type_error(name):
    with pytest.raises(TypeError, match="a learner name is a string"):
        keys.learner_prefix(name)


@pytest.mark.parametrize(
    "redis_key, learner",
    [
        ("cachelab:ada:product:42", "ada"),
        ("cachelab:ada2:x", "ada2"),
        ("cachelab:ada:", "ada"),
        ("cachelab:ada", None),  # under the course prefix, but nobody's
        ("cachelab::x", None),
        ("cachelab", None),
        ("cachelabX:ada:1", None),
        ("Cachelab:ada:1", None),
        ("user:cachelab:ada:1", None),
    ],
)
def test_learner_of_names_whose_key_it_is(redis_key, learner):
    assert keys._learner_of(redis_key) == learner
