"""Errors a carseg user can hit; each message says what was wrong and what to do."""


class InvalidImageError(ValueError):
    """The input is not an image carseg can use (cannot decode, empty, wrong shape or dtype)."""


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the model's ``max_pixels`` limit."""


class ConfigError(ValueError):
    """A carseg config that is invalid, or written by an incompatible carseg version."""


class ModelFolderError(ValueError):
    """A folder that should hold a saved carseg model is missing files."""


class ModelNotCachedError(FileNotFoundError):
    """A Hub repo was asked for offline, but it is not in the local cache."""
