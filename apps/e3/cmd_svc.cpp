// `e3 svc`: runs one registered microservice's file harness.
#include <iostream>
#include <string>

#include "apps/e3/commands.hpp"
#include "services/services.hpp"

namespace e3::cli {

int svc(int argc, char** argv) {
  service_registry reg;
  services::register_all(reg);
  if (argc < 2 || std::string(argv[1]) == "--list" || std::string(argv[1]) == "--help") {
    auto& out = argc < 2 ? std::cerr : std::cout;
    out << "usage: e3 svc <service> [options]   (e3 svc <service> --help)\nservices:\n";
    for (const auto& n : reg.names())
      out << "  " << n << "  " << reg.at(n).summary << "\n";
    return argc < 2 ? 2 : 0;
  }
  const service_kind* k = reg.find(argv[1]);
  if (!k) {
    std::cerr << "e3 svc: no service '" << argv[1] << "' (e3 svc --list shows them)\n";
    return 2;
  }
  if (!k->svc_main) {
    std::cerr << "e3 svc: service '" << argv[1] << "' has no file harness\n";
    return 2;
  }
  return k->svc_main(argc - 1, argv + 1);
}

}  // namespace e3::cli
