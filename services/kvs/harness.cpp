// `e3 svc kvs --ops FILE`: runs a file of GET/SET/DEL lines through the kvs service.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "actors/local_context.hpp"
#include "services/common/cli.hpp"
#include "services/kvs/cuckoo_table.hpp"
#include "services/kvs/kvs.hpp"
#include "services/kvs/service.hpp"

namespace e3::services {
namespace {

struct op_line {
  std::uint8_t op;
  std::string key;
  std::string value;
};

// Parses one non-comment line; returns an error text, empty when fine.
std::string parse_line(const std::string& line, op_line& out) {
  auto sp = line.find(' ');
  std::string verb = line.substr(0, sp);
  if (verb == "GET")
    out.op = kvs::op_get;
  else if (verb == "SET")
    out.op = kvs::op_set;
  else if (verb == "DEL")
    out.op = kvs::op_del;
  else
    return "unknown operation '" + verb + "' (expected GET, SET or DEL)";
  if (sp == std::string::npos || sp + 1 == line.size())
    return verb + " needs a key";
  std::string rest = line.substr(sp + 1);
  if (out.op == kvs::op_set) {
    auto vs = rest.find(' ');
    if (vs == std::string::npos)
      return "SET needs a value after the key";
    out.key = rest.substr(0, vs);
    out.value = rest.substr(vs + 1);
  } else {
    if (rest.find_first_of(" \t") != std::string::npos)
      return verb + " takes one key (extra text after it)";
    out.key = rest;
  }
  if (out.key.empty())
    return "empty key";
  if (out.key.find('\t') != std::string::npos)
    return "key contains a tab";
  if (out.key.size() > kvs::max_key_size)
    return "key of " + std::to_string(out.key.size()) + " bytes is longer than " + std::to_string(kvs::max_key_size);
  if (out.value.size() > kvs::max_value_size)
    return "value of " + std::to_string(out.value.size()) + " bytes is longer than " +
           std::to_string(kvs::max_value_size);
  return {};
}

}  // namespace

int kvs_svc_main(int argc, char** argv) {
  CLI::App app{"Runs GET/SET/DEL lines through the kvs service and prints one result line each:\n"
               "HIT <value> | MISS | STORED | DELETED | NOT_FOUND.\n"
               "File lines: `GET key`, `SET key value` (the value is the rest of the line), `DEL key`;\n"
               "blank lines and lines starting with # are skipped.",
               "e3 svc kvs"};
  std::string path;
  std::string search = "bfs";
  app.add_option("--ops", path, "file of GET/SET/DEL lines")->required();
  app.add_option("--search", search, "cuckoo path search: bfs or dfs")->check(CLI::IsMember({"bfs", "dfs"}));
  if (auto code = parse_svc_args(app, argc, argv, "kvs"))
    return *code;

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << path << ": cannot open: " << std::strerror(errno) << "\n";
    return 2;
  }
  std::vector<op_line> ops;
  std::string line;
  for (std::size_t no = 1; std::getline(in, line); ++no) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty() || line[0] == '#')
      continue;
    op_line op;
    if (auto err = parse_line(line, op); !err.empty()) {
      std::cerr << path << ":" << no << ": " << err << "\n";
      return 2;
    }
    ops.push_back(std::move(op));
  }
  if (in.bad()) {
    std::cerr << path << ": read error\n";
    return 2;
  }

  service_registry reg;
  register_kvs(reg);
  service_config cfg;
  cfg.params["search"] = search;
  auto svc = reg.at("kvs").make(cfg);
  local_context ctx;
  svc->on_start(ctx);
  for (const auto& op : ops) {
    ctx.clear();
    auto req_bytes = kvs::make_request(op.op, op.key, op.value);
    svc->handle(request{0, 0, req_bytes}, ctx);
    if (!ctx.rejections.empty()) {
      std::cout << "ERROR " << ctx.rejections.front() << "\n";
      continue;
    }
    auto rep = kvs::parse_reply(ctx.replies.at(0));
    std::cout << kvs::status_name(rep.status);
    if (rep.status == kvs::status_hit)
      std::cout << " " << rep.value;
    std::cout << "\n";
  }
  svc->flush(ctx);
  return 0;
}

}  // namespace e3::services
