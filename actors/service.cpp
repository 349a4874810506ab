// The service registry.
#include "actors/service.hpp"

namespace e3 {

void service_registry::add(service_kind k) {
  if (k.name.empty())
    throw unknown_kind("a service kind needs a name");
  auto name = k.name;
  if (!kinds_.emplace(name, std::move(k)).second)
    throw unknown_kind("service kind '" + name + "' is registered twice");
}

const service_kind* service_registry::find(std::string_view name) const {
  auto i = kinds_.find(name);
  return i == kinds_.end() ? nullptr : &i->second;
}

const service_kind& service_registry::at(std::string_view name) const {
  if (auto* k = find(name))
    return *k;
  std::string known;
  for (const auto& [n, _] : kinds_)
    known += (known.empty() ? "" : ", ") + n;
  throw unknown_kind("no service kind '" + std::string(name) + "' is implemented (known: " + known + ")");
}

std::vector<std::string> service_registry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : kinds_)
    out.push_back(n);
  return out;
}

}  // namespace e3
