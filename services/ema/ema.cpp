// EMA parameter parsing.
#include "services/ema/ema.hpp"

#include <stdexcept>
#include <string>

#include "services/ema/series_csv.hpp"

namespace e3::services::ema {

double parse_alpha(std::string_view text) {
  double a;
  if (!series::parse_number(text, a))
    throw std::invalid_argument("alpha '" + std::string(text) + "' is not a number");
  if (!(a > 0.0 && a <= 1.0))
    throw std::invalid_argument("alpha " + std::string(text) + " is outside (0, 1]");
  return a;
}

}  // namespace e3::services::ema
