from tests.fixtures_images import busybox_image  # noqa: F401
