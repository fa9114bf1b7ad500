"""Errors a user can cause and fix: each message says what to change."""


class UserError(ValueError):
    """A bad setting or input; a single run ends with its message alone, no traceback."""


class ConfigError(UserError):
    """A config value that cannot work."""


class DataError(UserError):
    """A data file, folder or column that is missing or cannot be used."""


def instantiate(config, **kwargs):
    """hydra.utils.instantiate that lets a UserError raised by the target through as itself;
    Hydra wraps every error of a target in InstantiationException, which buries the message."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate

    try:
        return hydra_instantiate(config, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, UserError):
            raise error.__cause__ from None
        raise
