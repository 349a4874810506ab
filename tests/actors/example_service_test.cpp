// The README's service example: it works, it survives a move of its state, and the README shows
// exactly this code.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "actors/local_context.hpp"
#include "tests/actors/example_service.hpp"

namespace {

std::string reply_text(const e3::local_context& ctx) {
  const auto& r = ctx.replies.back();
  return std::string(r.begin(), r.end());
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(ExampleService, CountsPerKeyAndRejectsEmptyRequests) {
  e3::service_registry reg;
  register_hit_counter(reg);
  auto svc = reg.at("hit_counter").make({});
  e3::local_context ctx;
  std::string body = "x";
  for (int i = 0; i < 3; ++i)
    svc->handle({1, 7, e3::as_bytes_view(body)}, ctx);
  svc->handle({2, 8, e3::as_bytes_view(body)}, ctx);
  EXPECT_EQ(reply_text(ctx), "1");
  ctx.clear();
  svc->handle({3, 7, e3::as_bytes_view(body)}, ctx);
  EXPECT_EQ(reply_text(ctx), "4");
  svc->handle({4, 7, {}}, ctx);
  ASSERT_EQ(ctx.rejections.size(), 1u);
  // Its state moves with a snapshot, as cold migration moves it.
  e3::local_context moved;
  moved.state().import_snapshot(ctx.state().export_snapshot());
  reg.at("hit_counter").make({})->handle({5, 7, e3::as_bytes_view(body)}, moved);
  EXPECT_EQ(reply_text(moved), "5");
}

TEST(ExampleService, TheReadmeShowsThisCode) {
  auto readme = slurp(E3_SOURCE_DIR "/README.md");
  auto code = slurp(E3_SOURCE_DIR "/tests/actors/example_service.hpp");
  // The README quotes the file from its first class comment to the end.
  auto from = code.find("// Counts the requests");
  ASSERT_NE(from, std::string::npos);
  EXPECT_NE(readme.find(code.substr(from)), std::string::npos)
      << "README.md's \"Write a service\" code differs from tests/actors/example_service.hpp";
}
