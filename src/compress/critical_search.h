// The critical amount of compression at a tolerance ε: the most compression
// whose loss stays ≤ L₀ + ε (REFERENCE §4). The loss is assumed to grow with
// compression, so the search brackets the crossing of the threshold (steps
// that double in size from a start point) and then bisects the bracket.
//
// Points live in one cache shared by every ε of a sweep: a later ε starts
// from the brackets the earlier ones left, and every evaluated point is kept
// (the loss-vs-amount curve is part of the output).
//
// Non-monotone curves (noise draws, quantization grids that do not nest) are
// handled by the FIRST-CROSSING RULE: among evaluated points ordered from
// least to most compression, the first point above the threshold ends the
// admissible range; an acceptable point beyond it does not count. The result
// is then the last acceptable point before the first failure, which is what
// bisection converges to on a monotone curve, and a conservative,
// deterministic choice on a noisy one: the critical amount never jumps past a
// point known to fail. With noise of amplitude δ on a monotone curve f, the
// answer p satisfies f(p) ≤ thr + δ and the next resolvable point q beyond it
// satisfies f(q) ≥ thr - δ.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace llcpress::compress {

// The domain of a method's parameter as the search sees it. The search
// coordinate is c(p) = log2(p) when log_scale, else p; steps and the
// resolution are in units of c.
struct SearchAxis {
  double least = 0;      // parameter of least compression (e.g. 65536 levels)
  double most = 1;       // parameter of most compression (e.g. 2 levels)
  bool integer = false;  // evaluate integers only (levels, counts)
  bool log_scale = false;
  double start = 0.5;         // first point when nothing is known yet
  double initial_step = 0.1;  // first bracketing step (then doubled), in c units
  double resolution = 1e-3;   // continuous: stop when the bracket is this narrow, in c units

  double coordinate(double parameter) const;  // c(p)
  double parameter(double coordinate) const;  // c⁻¹
  // Position in [0, 1]: 0 = least compression, 1 = most.
  double position(double parameter) const;
  double from_position(double position) const;
  double span() const;  // |c(most) - c(least)|
  void validate(const std::string& where) const;
};

enum class CriticalStatus : std::uint8_t {
  Found,       // critical = last acceptable point, first_failing = the point just beyond
  AllWithin,   // even the most compression in the domain stays within tolerance (critical = most, a bound)
  NoneWithin,  // even the least compression exceeds the tolerance (no critical amount)
};
const char* critical_status_name(CriticalStatus status);

struct CriticalResult {
  double epsilon = 0;
  double threshold = 0;  // L₀ + ε
  CriticalStatus status = CriticalStatus::Found;
  double critical = std::numeric_limits<double>::quiet_NaN();       // parameter
  double first_failing = std::numeric_limits<double>::quiet_NaN();  // parameter
  int new_evaluations = 0;                                          // points this ε added to the shared cache
};

// The shared cache of evaluated points: parameter → loss. A NaN or infinite
// loss counts as above every threshold.
class LossCurve {
 public:
  using Evaluate = std::function<double(double parameter)>;
  explicit LossCurve(Evaluate evaluate) : evaluate_(std::move(evaluate)) {}

  // The loss at `parameter`, evaluated once and cached.
  double at(double parameter);
  bool contains(double parameter) const { return points_.count(parameter) > 0; }
  const std::map<double, double>& points() const { return points_; }
  int evaluations() const { return static_cast<int>(points_.size()); }

 private:
  Evaluate evaluate_;
  std::map<double, double> points_;
};

// Finds the critical amount for one threshold, reusing and extending `curve`.
// `max_new_evaluations` guards against a misconfigured axis (a bug, not an
// input error, when exceeded).
CriticalResult find_critical(const SearchAxis& axis, double threshold, LossCurve& curve, int max_new_evaluations = 200);

// An upper bound on the new evaluations find_critical needs for one
// threshold on an empty cache: 1 start point, k bracketing steps (doubling
// from initial_step until the whole span is covered) and the bisection of
// the last bracket (at most 2^(k-1)·initial_step wide) down to the
// resolution (integer axes: to adjacent integers). Tests assert it.
int evaluation_bound(const SearchAxis& axis);

}  // namespace llcpress::compress
