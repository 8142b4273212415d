// Fixture: C++ out-of-class definitions.
#include "geometry.hpp"
#include <cmath>

namespace geo {

class Circle : public Shape {
public:
    explicit Circle(double r) : r_(r) {}
    double area() const override;

private:
    double r_;
};

double Circle::area() const {
    return 3.14159 * r_ * r_;
}

double distance(const Point &a, const Point &b) {
    return std::hypot(a.x - b.x, a.y - b.y);
}

}  // namespace geo

using Real = double;
