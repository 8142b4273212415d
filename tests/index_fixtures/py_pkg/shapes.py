"""Fixture: Python symbols."""

import math

MAX_SIDES = 12
_PRIVATE_LIMIT = 3
lowercase_value = 1


def area_of(shape):
    def helper(x):
        return x

    return helper(shape.area())


class Shape:
    KIND = "shape"

    def area(self):
        return 0.0

    @property
    def name(self):
        return "shape"

    class Meta:
        def describe(self):
            return "meta"


@dataclass_like
class Circle(Shape):
    def __init__(self, radius):
        self.radius = radius

    def area(self):
        return math.pi * self.radius**2
