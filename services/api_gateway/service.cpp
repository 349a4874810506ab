// The API gateway binding: the stateful service, synthetic load, the `e3 svc api_gateway` harness,
// registration.
#include "services/api_gateway/service.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace api_gateway {
namespace {

constexpr std::string_view demo_secret = "e3-demo-secret: synthetic load only";

double positive_param(const service_config& cfg, const char* name, double dflt, double min) {
  auto it = cfg.params.find(name);
  if (it == cfg.params.end())
    return dflt;
  const std::string& s = it->second;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v) || v < min)
    throw std::invalid_argument(std::string("api_gateway param ") + name + ": expected a number >= " +
                                std::to_string(min) + ", got '" + s + "'");
  return v;
}

}  // namespace

limiter_config limiter_from_params(const service_config& cfg) {
  limiter_config c;
  c.rate = positive_param(cfg, "rate", 1000, 1e-9);
  c.burst = positive_param(cfg, "burst", 100, 1);
  return c;
}

std::string secret_from_params(const service_config& cfg) { return cfg.param("secret", demo_secret); }

api_gateway_service::api_gateway_service(const service_config& cfg)
    : verifier_(secret_from_params(cfg)), limiter_(limiter_from_params(cfg)) {}

void api_gateway_service::handle(const request& req, service_context& ctx) {
  try {
    rec_ = decode_record(req.payload);
  } catch (const record_error& e) {
    ctx.reject(e.what());
    return;
  }
  const std::int64_t now = ctx.now_ns();
  const std::size_t space = rec_.text.find(' ');
  std::string_view token = std::string_view(rec_.text).substr(0, space);
  auto chk = verifier_.verify(token, now);
  if (chk.status != token_status::ok) {
    ctx.reject(to_string(chk.status));
    return;
  }
  if (!limiter_.allow(chk.subject, now)) {
    ctx.reject("rate limited");
    return;
  }
  rec_.text.erase(0, space == std::string::npos ? std::string::npos : space + 1);
  out_.clear();
  encode(rec_, out_);
  ctx.emit(rec_.key, out_);
}

void api_gateway_service::on_start(service_context& ctx) {
  limiter_ = rate_limiter(limiter_.config());
  ctx.state().get_table(buckets_table).for_each([&](std::string_view subject, std::string_view value) {
    limiter_.put(std::string(subject), state::from_bytes<bucket>(value));
  });
}

void api_gateway_service::flush(service_context& ctx) {
  auto& table = ctx.state().get_table(buckets_table);
  const std::int64_t now = ctx.now_ns();
  std::vector<std::string> full;
  for (const auto* e : limiter_.dirty()) {
    if (limiter_.full_at(e->second.b, now)) {
      table.erase(e->first);
      full.push_back(e->first);
    } else {
      table.put(e->first, state::as_bytes(e->second.b));
    }
  }
  limiter_.clear_dirty();
  for (const auto& s : full)
    limiter_.erase(s);
}

namespace {

int svc_main(int argc, char** argv) {
  std::string requests, sign, expiry = "", ttl = "3600000000000";
  service_config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout
          << "usage: e3 svc api_gateway --requests FILE [--secret S] [--rate R] [--burst B] [--ttl NS]\n"
             "       e3 svc api_gateway --sign SUBJECT --expiry NS [--secret S]\n"
             "FILE has lines time_ns<TAB>token_or_subject ('#' comments and blank lines skipped). A field\n"
             "with ':' is a token (subject:expiry_ns:hmac_sha256_hex); otherwise it is a subject, signed\n"
             "here with an expiry of time_ns + ttl (default 1 h). The gateway's clock is time_ns. Prints\n"
             "time_ns<TAB>accept<TAB>subject or time_ns<TAB>reject<TAB>reason per request, then\n"
             "accepted=N rejected=M. --sign prints a token.\n";
      return 0;
    }
    const char* param = a == "--secret" ? "secret" : a == "--rate" ? "rate" : a == "--burst" ? "burst" : nullptr;
    std::string* dst = a == "--requests" ? &requests : a == "--sign" ? &sign : a == "--expiry" ? &expiry : a == "--ttl" ? &ttl : nullptr;
    if (!param && !dst) {
      std::cerr << "e3 svc api_gateway: unknown argument '" << a << "' (see --help)\n";
      return 2;
    }
    if (i + 1 >= argc) {
      std::cerr << "e3 svc api_gateway: " << a << " needs a value\n";
      return 2;
    }
    if (param)
      cfg.params[param] = argv[++i];
    else
      *dst = argv[++i];
  }
  auto parse_ns = [](const std::string& s, std::int64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
  };
  try {
    if (!sign.empty()) {
      std::int64_t exp = 0;
      if (!parse_ns(expiry, exp)) {
        std::cerr << "e3 svc api_gateway: --sign needs --expiry NS (an integer), got '" << expiry << "'\n";
        return 2;
      }
      std::cout << make_token(secret_from_params(cfg), sign, exp) << "\n";
      return 0;
    }
    if (requests.empty()) {
      std::cerr << "e3 svc api_gateway: --requests FILE (or --sign SUBJECT) is required\n";
      return 2;
    }
    std::int64_t ttl_ns = 0;
    if (!parse_ns(ttl, ttl_ns) || ttl_ns <= 0) {
      std::cerr << "e3 svc api_gateway: --ttl: expected a positive integer, got '" << ttl << "'\n";
      return 2;
    }
    std::ifstream in(requests, std::ios::binary);
    if (!in) {
      std::cerr << requests << ": cannot open\n";
      return 2;
    }
    api_gateway_service svc(cfg);
    local_context ctx;
    svc.on_start(ctx);
    const std::string secret = secret_from_params(cfg);
    std::string line;
    std::size_t line_no = 0, accepted = 0, rejected = 0;
    std::ostringstream out;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.empty() || line[0] == '#')
        continue;
      auto where = requests + ":" + std::to_string(line_no) + ": ";
      auto tab = line.find('\t');
      if (tab == std::string::npos || tab + 1 == line.size()) {
        std::cerr << where << "expected time_ns<TAB>token_or_subject\n";
        return 2;
      }
      std::int64_t t = 0;
      std::string time_text = line.substr(0, tab), field = line.substr(tab + 1);
      if (!parse_ns(time_text, t)) {
        std::cerr << where << "bad time_ns '" << time_text << "'\n";
        return 2;
      }
      std::string token = field;
      if (field.find(':') == std::string::npos) {
        try {
          token = make_token(secret, field, t + ttl_ns);
        } catch (const std::invalid_argument& e) {
          std::cerr << where << e.what() << "\n";
          return 2;
        }
      } else if (field.find_first_of(" \t") != std::string::npos) {
        std::cerr << where << "a token has no whitespace\n";
        return 2;
      }
      record r;
      r.key = line_no;
      r.ts_ns = t;
      r.text = token;
      ctx.clear();
      ctx.now = t;
      svc.handle({line_no, line_no, encode(r)}, ctx);
      if (ctx.emits.empty()) {
        ++rejected;
        out << t << "\treject\t" << (ctx.rejections.empty() ? "?" : ctx.rejections[0]) << "\n";
      } else {
        ++accepted;
        out << t << "\taccept\t" << token.substr(0, token.rfind(':', token.rfind(':') - 1)) << "\n";
      }
    }
    std::cout << out.str() << "accepted=" << accepted << " rejected=" << rejected << "\n";
    return 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc api_gateway: " << e.what() << "\n";
  }
  return 2;
}

}  // namespace
}  // namespace api_gateway

void register_api_gateway(service_registry& r) {
  service_kind k;
  k.name = "api_gateway";
  k.table1_name = "API gw";
  k.summary = "HMAC-SHA256 token authentication + per-subject token-bucket rate limit; emits the record without its token";
  k.stateful = true;
  k.input = input_format::record;
  k.make = [](const service_config& c) -> std::unique_ptr<service> {
    return std::make_unique<api_gateway::api_gateway_service>(c);
  };
  k.synthetic_request = [](std::size_t size, std::mt19937_64& rng) {
    // Signed with the default secret, far-future expiry, 10,000 clients (well under the default
    // rate each at a few M requests/s), a body filling the request to `size` bytes.
    static thread_local std::unordered_map<std::uint64_t, std::string> tokens;
    std::uint64_t client = rng() % 10000;
    auto& tok = tokens[client];
    if (tok.empty())
      tok = api_gateway::make_token(api_gateway::demo_secret, "client-" + std::to_string(client), std::int64_t(4e18));
    record q;
    q.key = client;
    q.text = tok;
    std::size_t want = size > record_header_size + tok.size() + 1 ? size - record_header_size : tok.size() + 2;
    q.text += ' ';
    while (q.text.size() < want)
      q.text += char('a' + rng() % 26);
    return encode(q);
  };
  k.svc_main = api_gateway::svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
