from tests.fixtures_images import busybox_image  # noqa: F401  (the fixture, for this dir)
from tests.scheduler.stackenv import stack  # noqa: F401  (the fixture, for this dir)
