// Fixture: C++ symbols.
#pragma once
#include <string>

namespace geo {

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    std::string name() const { return "shape"; }
};

struct Point {
    double x;
    double y;
};

template <typename T>
class Box {
public:
    T value;
    T get() const { return value; }
};

double distance(const Point &a, const Point &b);

}  // namespace geo
