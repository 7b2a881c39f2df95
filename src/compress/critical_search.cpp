#include "compress/critical_search.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace llcpress::compress {

double SearchAxis::coordinate(double p) const { return log_scale ? std::log2(p) : p; }
double SearchAxis::parameter(double c) const { return log_scale ? std::exp2(c) : c; }
double SearchAxis::span() const { return std::fabs(coordinate(most) - coordinate(least)); }

double SearchAxis::position(double p) const {
  return (coordinate(p) - coordinate(least)) / (coordinate(most) - coordinate(least));
}

double SearchAxis::from_position(double position) const {
  // The ends map back exactly: a round trip through log2/exp2 could miss them by an ulp.
  if (position <= 0) return least;
  if (position >= 1) return most;
  double c = coordinate(least) + position * (coordinate(most) - coordinate(least));
  return parameter(c);
}

void SearchAxis::validate(const std::string& where) const {
  LLC_CHECK(std::isfinite(least) && std::isfinite(most) && least != most, ConfigError, where,
            "give distinct finite ends for the searched range", "search range [{}, {}] is empty", least, most);
  LLC_CHECK(!log_scale || (least > 0 && most > 0), ConfigError, where,
            "a log-scale parameter needs positive range ends", "search range [{}, {}] is not positive", least, most);
  LLC_CHECK(!integer || (least == std::round(least) && most == std::round(most)), ConfigError, where,
            "give whole numbers for an integer parameter", "search range [{}, {}] is not integral", least, most);
  const double low = std::min(least, most), high = std::max(least, most);
  LLC_CHECK(start >= low && start <= high, ConfigError, where, "choose a start inside the range",
            "search start {} is outside [{}, {}]", start, low, high);
  LLC_CHECK(initial_step > 0 && resolution > 0, ConfigError, where, "use positive steps",
            "search step {} / resolution {} must be positive", initial_step, resolution);
}

const char* critical_status_name(CriticalStatus status) {
  switch (status) {
    case CriticalStatus::Found:
      return "found";
    case CriticalStatus::AllWithin:
      return "all_within_tolerance";
    case CriticalStatus::NoneWithin:
      return "none_within_tolerance";
  }
  return "unknown";
}

double LossCurve::at(double parameter) {
  auto found = points_.find(parameter);
  if (found != points_.end()) return found->second;
  double loss = evaluate_(parameter);
  points_.emplace(parameter, loss);
  return loss;
}

namespace {

bool exceeds(double loss, double threshold) { return !(loss <= threshold); }  // NaN exceeds

}  // namespace

CriticalResult find_critical(const SearchAxis& axis, double threshold, LossCurve& curve, int max_new_evaluations) {
  axis.validate("search axis");
  CriticalResult result;
  result.threshold = threshold;
  const int before = curve.evaluations();
  // Parameter grows with compression when dir = +1 (pruning), shrinks when -1 (levels).
  const double dir = axis.most > axis.least ? 1.0 : -1.0;
  const double low = std::min(axis.least, axis.most), high = std::max(axis.least, axis.most);
  auto snap = [&](double p) {
    p = std::clamp(p, low, high);
    return axis.integer ? std::round(p) : p;
  };
  double step = axis.initial_step / axis.span();  // in positions
  for (;;) {
    LLC_REQUIRE(curve.evaluations() - before <= max_new_evaluations, "critical search took more than {} evaluations",
                max_new_evaluations);
    // First-crossing rule: the first failing point (least compression) and the
    // last acceptable point before it.
    double bad_position = INFINITY, bad = NAN;
    for (const auto& [p, loss] : curve.points()) {
      double position = axis.position(p);
      if (position < 0 || position > 1) continue;  // outside this axis (another range)
      if (exceeds(loss, threshold) && position < bad_position) bad_position = position, bad = p;
    }
    double ok_position = -INFINITY, ok = NAN;
    for (const auto& [p, loss] : curve.points()) {
      double position = axis.position(p);
      if (position < 0 || position > 1) continue;
      if (!exceeds(loss, threshold) && position < bad_position && position > ok_position)
        ok_position = position, ok = p;
    }
    const bool have_ok = std::isfinite(ok_position), have_bad = std::isfinite(bad_position);

    double next;
    if (!have_ok && !have_bad) {
      next = snap(axis.start);
    } else if (!have_ok) {
      if (bad == axis.least) {
        result.status = CriticalStatus::NoneWithin;
        result.first_failing = bad;
        break;
      }
      next = snap(axis.from_position(std::max(0.0, bad_position - step)));
      step *= 2;
      if (next == bad) next = bad - dir;  // integer axis: at least one step toward less compression
    } else if (!have_bad) {
      if (ok == axis.most) {
        result.status = CriticalStatus::AllWithin;
        result.critical = ok;
        break;
      }
      next = snap(axis.from_position(std::min(1.0, ok_position + step)));
      step *= 2;
      if (next == ok) next = ok + dir;
    } else {
      const bool resolved = axis.integer ? std::fabs(bad - ok) <= 1.0
                                         : std::fabs(axis.coordinate(bad) - axis.coordinate(ok)) <= axis.resolution;
      if (resolved) {
        result.status = CriticalStatus::Found;
        result.critical = ok;
        result.first_failing = bad;
        break;
      }
      next = snap(axis.from_position(0.5 * (ok_position + bad_position)));
      if (axis.integer) {
        // Strictly between the ends (there is an integer there: they are not adjacent).
        const double lo = std::min(ok, bad) + 1, hi = std::max(ok, bad) - 1;
        next = std::clamp(next, lo, hi);
      }
    }
    LLC_REQUIRE(!curve.contains(next), "critical search revisited parameter {}", next);
    curve.at(next);
  }
  result.new_evaluations = curve.evaluations() - before;
  return result;
}

int evaluation_bound(const SearchAxis& axis) {
  const double span = axis.span();
  const double step = axis.initial_step / span;  // positions
  // k doubling steps cover a distance step·(2^k - 1); the whole domain needs 1.
  const int brackets = static_cast<int>(std::ceil(std::log2(1.0 / step + 1.0)));
  const double last_width = std::min(1.0, std::ldexp(step, brackets - 1)) * span;  // coordinate units
  int bisections;
  if (!axis.integer) {
    bisections =
        last_width > axis.resolution ? static_cast<int>(std::ceil(std::log2(last_width / axis.resolution))) : 0;
  } else {
    // The narrowest coordinate gap between adjacent integers in the domain
    // (at the large end for a log axis). Rounding the midpoint to an integer
    // can leave a bracket up to one gap wider than half; two extra steps
    // absorb that (W_{n+1} ≤ W_n/2 + gap settles at 2 gaps, then ≤ 2 steps).
    const double top = std::max(axis.least, axis.most);
    const double gap = axis.log_scale ? std::log2(top / (top - 1)) : 1.0;
    bisections = static_cast<int>(std::ceil(std::log2(std::max(1.0, last_width / gap)))) + 2;
  }
  return 1 + brackets + bisections;
}

}  // namespace llcpress::compress
