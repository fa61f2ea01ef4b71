#include "engine/lr_schedule.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "core/json_text.h"
#include "core/strings.h"

namespace bert {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr const char* kFlag = "--lr_scheduler_kwargs";

struct ScheduleName {
  LrSchedule schedule;
  const char* name;
  // The keys its transformers function takes besides the steps (constant and
  // constant_with_warmup: none, and get_scheduler ignores any given: ignores_kwargs).
  std::vector<const char*> keys;
};

const std::vector<ScheduleName>& schedule_names() {
  static const std::vector<ScheduleName> names = {
      {LrSchedule::kLinear, "linear", {}},
      {LrSchedule::kCosine, "cosine", {"num_cycles"}},
      {LrSchedule::kCosineWithRestarts, "cosine_with_restarts", {"num_cycles"}},
      {LrSchedule::kPolynomial, "polynomial", {"lr_end", "power"}},
      {LrSchedule::kConstant, "constant", {}},
      {LrSchedule::kConstantWithWarmup, "constant_with_warmup", {}},
      {LrSchedule::kInverseSqrt, "inverse_sqrt", {"timescale"}},
      {LrSchedule::kCosineWithMinLr, "cosine_with_min_lr", {"num_cycles", "min_lr", "min_lr_rate"}},
      {LrSchedule::kCosineWarmupWithMinLr,
       "cosine_warmup_with_min_lr",
       {"num_cycles", "min_lr", "min_lr_rate", "warmup_lr_rate"}},
      {LrSchedule::kWarmupStableDecay,
       "warmup_stable_decay",
       {"num_decay_steps", "num_stable_steps", "warmup_type", "decay_type", "min_lr_ratio", "num_cycles"}},
      {LrSchedule::kReduceLrOnPlateau,
       "reduce_lr_on_plateau",
       {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps"}},
  };
  return names;
}

const ScheduleName& entry(LrSchedule schedule) {
  for (const ScheduleName& e : schedule_names())
    if (e.schedule == schedule) return e;
  return schedule_names().front();
}

// transformers' get_scheduler passes the kwargs of these two nowhere.
bool ignores_kwargs(LrSchedule s) { return s == LrSchedule::kConstant || s == LrSchedule::kConstantWithWarmup; }

// Python's float x % m for m > 0: the result in [0, m), also for negative x.
double python_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r != 0 && (r < 0) != (m < 0)) r += m;
  return r;
}

double warmup_factor(int64_t step, int64_t warmup) {
  return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
}

// Each schedule's factor of base_lr, in the order of operations of transformers' lambdas, so
// that base_lr × factor is Python's value to the bit.
double cosine_factor(double num_cycles, double progress) {
  return 0.5 * (1.0 + std::cos(kPi * num_cycles * 2.0 * progress));
}

double polynomial_factor(const LrScheduleArgs& a, double lr_init, int64_t step, int64_t w, int64_t total) {
  if (step > total) return a.lr_end / lr_init;
  const double lr_range = lr_init - a.lr_end;
  const double pct_remaining =
      1.0 - static_cast<double>(step - w) / static_cast<double>(std::max<int64_t>(1, total - w));
  return (lr_range * std::pow(pct_remaining, a.power) + a.lr_end) / lr_init;
}

double wsd_factor(const LrScheduleArgs& a, double num_cycles, int64_t step, int64_t w, int64_t total) {
  const double stable =
      std::isnan(a.num_stable_steps) ? static_cast<double>(total - w) - a.num_decay_steps : a.num_stable_steps;
  const auto lifted = [&](double factor) { return std::max(0.0, factor * (1.0 - a.min_lr_ratio) + a.min_lr_ratio); };
  if (step < w) {
    const double progress = warmup_factor(step, w);
    switch (a.warmup_type) {
      case WsdShape::kLinear: return lifted(progress);
      case WsdShape::kCosine: return lifted(0.5 * (1.0 - std::cos(kPi * progress)));
      case WsdShape::kOneMinusSqrt: return lifted(1.0 - std::sqrt(1.0 - progress));
    }
  }
  const double since_warmup = static_cast<double>(step - w);
  if (since_warmup < stable) return 1.0;
  if (since_warmup < stable + a.num_decay_steps) {
    const double progress = (since_warmup - stable) / std::max(1.0, a.num_decay_steps);
    switch (a.decay_type) {
      case WsdShape::kLinear: return lifted(1.0 - progress);
      case WsdShape::kCosine: return lifted(cosine_factor(num_cycles, progress));
      case WsdShape::kOneMinusSqrt: return lifted(1.0 - std::sqrt(progress));
    }
  }
  return a.min_lr_ratio;
}

double cosine_warmup_with_min_lr_factor(const LrScheduleArgs& a, double num_cycles, int64_t step, int64_t w,
                                        int64_t total) {
  const double s = static_cast<double>(step), warm = static_cast<double>(w);
  if (s < warm) {
    if (std::isnan(a.warmup_lr_rate)) return (s + 1.0) / std::max(1.0, warm);
    return a.warmup_lr_rate + (1.0 - a.warmup_lr_rate) * s / std::max(1.0, warm - 1.0);
  }
  const double progress = (s - warm + 1.0) / std::max(1.0, static_cast<double>(total) - warm);
  return std::max(0.0, cosine_factor(num_cycles, progress) * (1.0 - a.min_lr_rate) + a.min_lr_rate);
}

double schedule_factor(const LrScheduleConfig& c, double base_lr, int64_t step, int64_t w, int64_t total) {
  const LrScheduleArgs& a = c.args;
  // num_cycles as given, or transformers' default: 1 for cosine_with_restarts, else 0.5.
  const double num_cycles =
      !std::isnan(a.num_cycles) ? a.num_cycles : c.type == LrSchedule::kCosineWithRestarts ? 1.0 : 0.5;
  switch (c.type) {
    case LrSchedule::kConstant: return 1.0;
    case LrSchedule::kReduceLrOnPlateau: return 1.0;  // the trainer follows PlateauState instead
    case LrSchedule::kCosineWarmupWithMinLr: return cosine_warmup_with_min_lr_factor(a, num_cycles, step, w, total);
    case LrSchedule::kWarmupStableDecay: return wsd_factor(a, num_cycles, step, w, total);
    default: break;
  }
  if (step < w) return warmup_factor(step, w);
  const double progress =
      static_cast<double>(step - w) / static_cast<double>(std::max<int64_t>(1, total - w));
  switch (c.type) {
    case LrSchedule::kLinear:
      return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - w)));
    case LrSchedule::kCosine:
      return std::max(0.0, cosine_factor(num_cycles, progress));
    case LrSchedule::kCosineWithRestarts: {
      if (progress >= 1.0) return 0.0;
      return std::max(0.0, 0.5 * (1.0 + std::cos(kPi * python_mod(num_cycles * progress, 1.0))));
    }
    case LrSchedule::kPolynomial: return polynomial_factor(a, base_lr, step, w, total);
    case LrSchedule::kConstantWithWarmup: return 1.0;
    case LrSchedule::kInverseSqrt: {
      const double timescale = !std::isnan(a.timescale) ? a.timescale : w > 0 ? static_cast<double>(w) : 10000.0;
      const double shift = timescale - static_cast<double>(w);
      return 1.0 / std::sqrt((static_cast<double>(step) + shift) / timescale);
    }
    case LrSchedule::kCosineWithMinLr: {
      const double f = cosine_factor(num_cycles, progress);
      return std::max(0.0, f * (1.0 - a.min_lr_rate) + a.min_lr_rate);
    }
    default: return 1.0;  // handled above
  }
}

// ---- --lr_scheduler_kwargs ----

class KwargsReader {
 public:
  KwargsReader(LrSchedule schedule, const simdjson::dom::object& object) : schedule_(schedule), object_(object) {}

  // The number under key; false when absent (or null, where null_is_absent: Python's None).
  bool number(const char* key, double* out, bool null_is_absent = false) const {
    simdjson::dom::element value;
    if (object_[key].get(value) != simdjson::SUCCESS) return false;
    if (null_is_absent && value.is_null()) return false;
    if (value.get_double().get(*out) || !std::isfinite(*out))
      throw_input_error(kFlag, key, "expected a finite number, found " + simdjson::minify(value));
    return true;
  }
  double at_least(const char* key, double min, double fallback, bool null_is_absent = false) const {
    double v = fallback;
    if (number(key, &v, null_is_absent) && v < min)
      throw_input_error(kFlag, key, "expected a number >= " + format_json_number(min) + " for " +
                                        lr_schedule_name(schedule_) + ", found " + format_json_number(v));
    return v;
  }
  // A whole number >= 0 (torch counts evaluations with it), or fallback when absent.
  int64_t count(const char* key, int64_t fallback) const {
    const double v = at_least(key, 0.0, double(fallback));
    if (v != std::floor(v) || v > 1e15) throw_input_error(kFlag, key, "expected a whole number, found " + format_json_number(v));
    return int64_t(v);
  }
  // The index in `words` of the word under key, or fallback when absent.
  int word(const char* key, const std::vector<const char*>& words, int fallback) const {
    simdjson::dom::element value;
    if (object_[key].get(value) != simdjson::SUCCESS) return fallback;
    std::string_view text;
    if (!value.get_string().get(text))
      for (size_t i = 0; i < words.size(); ++i)
        if (text == words[i]) return int(i);
    std::string expected;
    for (size_t i = 0; i < words.size(); ++i)
      expected += std::string(i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + "'" + words[i] + "'";
    throw_input_error(kFlag, key, "expected " + expected + ", found " + simdjson::minify(value));
  }
  WsdShape shape(const char* key, WsdShape fallback) const {
    return WsdShape(word(key, {"linear", "cosine", "1-sqrt"}, int(fallback)));
  }

 private:
  LrSchedule schedule_;
  simdjson::dom::object object_;
};

// Keys sorted, numbers as Python prints them (integers as integers), strings quoted.
std::string canonical_kwargs(const simdjson::dom::object& object) {
  std::map<std::string, std::string> sorted;
  for (const auto field : object) {
    std::string text;
    int64_t integer = 0;
    double number = 0;
    std::string_view string;
    if (field.value.type() == simdjson::dom::element_type::INT64 && !field.value.get_int64().get(integer))
      text = std::to_string(integer);
    else if (!field.value.get_string().get(string))
      text = json_quote(string);
    else if (!field.value.get_double().get(number))
      text = format_json_number(number);
    else
      text = simdjson::minify(field.value);
    sorted[std::string(field.key)] = text;
  }
  std::string out = "{";
  for (const auto& [key, text] : sorted) out += (out.size() > 1 ? ", " : "") + json_quote(key) + ": " + text;
  return out + "}";
}

LrScheduleArgs read_args(LrSchedule schedule, const KwargsReader& r, double learning_rate) {
  LrScheduleArgs a;
  const char* name = lr_schedule_name(schedule);
  r.number("num_cycles", &a.num_cycles);  // any finite number, as transformers takes it
  switch (schedule) {
    case LrSchedule::kPolynomial:
      a.lr_end = r.at_least("lr_end", 0.0, a.lr_end);
      a.power = r.at_least("power", 0.0, a.power);
      if (!(learning_rate > a.lr_end))
        throw_input_error(kFlag, "lr_end",
                          "lr_end (" + format_json_number(a.lr_end) + ") must be smaller than the initial rate "
                          "--learning_rate (" + format_json_number(learning_rate) + "), as transformers requires");
      break;
    case LrSchedule::kInverseSqrt:
      a.timescale = r.at_least("timescale", 0.0, kNotGiven, /*null_is_absent=*/true);
      if (a.timescale == 0.0) throw_input_error(kFlag, "timescale", "expected a number > 0, found 0");
      break;
    case LrSchedule::kCosineWithMinLr:
    case LrSchedule::kCosineWarmupWithMinLr: {
      // transformers: exactly one of them; min_lr is turned into min_lr / learning_rate.
      const double min_lr = r.at_least("min_lr", 0.0, kNotGiven, /*null_is_absent=*/true);
      const double min_lr_rate = r.at_least("min_lr_rate", 0.0, kNotGiven, /*null_is_absent=*/true);
      if (std::isnan(min_lr) == std::isnan(min_lr_rate))
        throw_input_error(kFlag, "min_lr", std::string(name) + (std::isnan(min_lr)
                                                                    ? " needs one of min_lr or min_lr_rate, e.g. "
                                                                      "{\"min_lr_rate\": 0.1}"
                                                                    : " takes only one of min_lr or min_lr_rate"));
      a.min_lr_rate = std::isnan(min_lr) ? min_lr_rate : min_lr / learning_rate;
      if (schedule == LrSchedule::kCosineWarmupWithMinLr)
        a.warmup_lr_rate = r.at_least("warmup_lr_rate", 0.0, kNotGiven, /*null_is_absent=*/true);
      break;
    }
    case LrSchedule::kReduceLrOnPlateau:
      a.plateau_max = r.word("mode", {"min", "max"}, 0) == 1;
      a.plateau_threshold_abs = r.word("threshold_mode", {"rel", "abs"}, 0) == 1;
      a.plateau_factor = r.at_least("factor", 0.0, a.plateau_factor);
      if (!(a.plateau_factor < 1.0)) throw_input_error(kFlag, "factor", "expected a number < 1.0 (torch: \"Factor should be < 1.0.\")");
      a.plateau_patience = r.count("patience", a.plateau_patience);
      a.plateau_cooldown = r.count("cooldown", a.plateau_cooldown);
      a.plateau_threshold = r.at_least("threshold", 0.0, a.plateau_threshold);
      a.plateau_min_lr = r.at_least("min_lr", 0.0, a.plateau_min_lr);
      a.plateau_eps = r.at_least("eps", 0.0, a.plateau_eps);
      break;
    case LrSchedule::kWarmupStableDecay:
      a.num_decay_steps = r.at_least("num_decay_steps", 0.0, kNotGiven);
      if (std::isnan(a.num_decay_steps))
        throw_input_error(kFlag, "num_decay_steps",
                          "warmup_stable_decay needs the length of its decay, e.g. {\"num_decay_steps\": 100}");
      a.num_stable_steps = r.at_least("num_stable_steps", 0.0, kNotGiven, /*null_is_absent=*/true);
      a.warmup_type = r.shape("warmup_type", a.warmup_type);
      a.decay_type = r.shape("decay_type", a.decay_type);
      a.min_lr_ratio = r.at_least("min_lr_ratio", 0.0, a.min_lr_ratio);
      break;
    default: break;
  }
  return a;
}

}  // namespace

bool parse_lr_schedule(const std::string& name, LrSchedule* out) {
  for (const ScheduleName& e : schedule_names()) {
    if (name == e.name) {
      *out = e.schedule;
      return true;
    }
  }
  return false;
}

const char* lr_schedule_name(LrSchedule schedule) { return entry(schedule).name; }

const char* lr_schedule_names() {
  static const std::string names = [] {
    std::vector<const char*> all;
    for (const ScheduleName& e : schedule_names()) all.push_back(e.name);
    return joined(all);
  }();
  return names.c_str();
}

LrScheduleConfig parse_lr_schedule_config(const std::string& name, const std::string& kwargs_json,
                                          double learning_rate, std::vector<std::string>* notes) {
  LrScheduleConfig config;
  if (!parse_lr_schedule(name, &config.type)) {
    if (name == "greedy")
      throw_input_error("--lr_scheduler_type", name,
                        "not implemented (transformers' GreedyLR); the schedules here: " +
                            std::string(lr_schedule_names()));
    throw_input_error("--lr_scheduler_type", "", "expected one of " + std::string(lr_schedule_names()) +
                                                     ", got '" + name + "'");
  }
  // Not given: transformers' {} (the schedules that need a key still say so below).
  const bool blank = kwargs_json.find_first_not_of(" \t\r\n") == std::string::npos;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (const auto error = parser.parse(simdjson::padded_string(blank ? std::string("{}") : kwargs_json)).get(root))
    throw_input_error(kFlag, "", std::string("not valid JSON (") + simdjson::error_message(error) +
                                     "); expected an object such as '{\"num_cycles\": 2}'");
  if (root.get_object().get(object))
    throw_input_error(kFlag, "", "expected a JSON object such as '{\"num_cycles\": 2}', found " + simdjson::minify(root));
  if (ignores_kwargs(config.type) && object.size() > 0) {
    notes->push_back("--lr_scheduler_kwargs " + canonical_kwargs(object) + " is ignored by --lr_scheduler_type " +
                     name + ", as transformers' get_scheduler ignores it");
    return config;
  }
  const std::vector<const char*>& keys = entry(config.type).keys;
  std::set<std::string_view> seen;
  for (const auto field : object) {
    if (!seen.insert(field.key).second) throw_input_error(kFlag, std::string(field.key), "given twice");
    const bool known = std::any_of(keys.begin(), keys.end(), [&](const char* k) { return field.key == k; });
    if (!known)
      throw_input_error(kFlag, std::string(field.key),
                        "not an argument of " + name +
                            (keys.empty() ? std::string(", which takes none")
                                          : std::string(", which takes ") + joined(keys)));
  }
  config.args = read_args(config.type, KwargsReader(config.type, object), learning_rate);
  config.kwargs_json = canonical_kwargs(object);
  return config;
}

double schedule_lr(const LrScheduleConfig& schedule, double base_lr, int64_t step, int64_t warmup_steps,
                   int64_t total_steps) {
  return base_lr * schedule_factor(schedule, base_lr, step, warmup_steps, total_steps);
}

PlateauState plateau_start(double base_lr) {
  PlateauState state;
  state.learning_rate = base_lr;
  return state;
}

void plateau_step(const LrScheduleArgs& a, double metric, PlateauState* s) {
  ++s->evaluations;
  const bool better = std::isnan(s->best) ||
                      (a.plateau_max ? (a.plateau_threshold_abs ? metric > s->best + a.plateau_threshold
                                                               : metric > s->best * (a.plateau_threshold + 1.0))
                                    : (a.plateau_threshold_abs ? metric < s->best - a.plateau_threshold
                                                               : metric < s->best * (1.0 - a.plateau_threshold)));
  if (better) {
    s->best = metric;
    s->bad_evaluations = 0;
  } else {
    ++s->bad_evaluations;
  }
  if (s->cooldown > 0) {
    --s->cooldown;
    s->bad_evaluations = 0;  // bad evaluations in the cooldown do not count
  }
  if (s->bad_evaluations > a.plateau_patience) {
    const double lowered = std::max(s->learning_rate * a.plateau_factor, a.plateau_min_lr);
    if (s->learning_rate - lowered > a.plateau_eps) s->learning_rate = lowered;
    s->cooldown = a.plateau_cooldown;
    s->bad_evaluations = 0;
  }
}

double schedule_lr(LrSchedule schedule, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  LrScheduleConfig config;
  config.type = schedule;
  return schedule_lr(config, base_lr, step, warmup_steps, total_steps);
}

double linear_schedule_lr(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  return schedule_lr(LrSchedule::kLinear, base_lr, step, warmup_steps, total_steps);
}

}  // namespace bert
