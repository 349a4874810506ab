// The SVG line-chart writer: well-formed XML (checked by Expat), one line and one legend entry per
// series, escaped text, ticks that cover the data.
#include <expat.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench/common/svg.hpp"

namespace {

using namespace e3::bench::svg;

/// What Expat saw while parsing a document.
struct parsed {
  bool ok = false;
  std::string error;
  std::string root;
  int polylines = 0;
  int circles = 0;
  std::vector<std::string> texts;  // character data of every <text> and <title>
};

struct parse_state {
  parsed* out = nullptr;
  int depth = 0;
  bool in_text = false;
  std::string text;
};

parsed parse(const std::string& doc) {
  parsed p;
  parse_state st;
  st.out = &p;
  XML_Parser x = XML_ParserCreate("UTF-8");
  XML_SetUserData(x, &st);
  XML_SetElementHandler(
      x,
      [](void* u, const XML_Char* name, const XML_Char**) {
        auto& s = *static_cast<parse_state*>(u);
        std::string n = name;
        if (s.depth++ == 0)
          s.out->root = n;
        s.out->polylines += n == "polyline";
        s.out->circles += n == "circle";
        if (n == "text" || n == "title") {
          s.in_text = true;
          s.text.clear();
        }
      },
      [](void* u, const XML_Char* name) {
        auto& s = *static_cast<parse_state*>(u);
        --s.depth;
        std::string n = name;
        if (n == "text" || n == "title") {
          s.out->texts.push_back(s.text);
          s.in_text = false;
        }
      });
  XML_SetCharacterDataHandler(x, [](void* u, const XML_Char* c, int len) {
    auto& s = *static_cast<parse_state*>(u);
    if (s.in_text)
      s.text.append(c, std::size_t(len));
  });
  p.ok = XML_Parse(x, doc.data(), int(doc.size()), 1) == XML_STATUS_OK;
  if (!p.ok)
    p.error = std::string(XML_ErrorString(XML_GetErrorCode(x))) + " at line " +
              std::to_string(XML_GetCurrentLineNumber(x));
  XML_ParserFree(x);
  return p;
}

bool has_text(const parsed& p, const std::string& t) {
  for (const auto& s : p.texts)
    if (s == t)
      return true;
  return false;
}

TEST(SvgChart, IsWellFormedXmlWithOneLineAndLegendPerSeries) {
  chart c;
  c.title = "benefit vs size";
  c.x_label = "bytes";
  c.y_label = "ratio";
  c.lines.push_back({"ipsec", {{64, 1.0}, {512, 2.0}, {1500, 1.5}}, "", false});
  c.lines.push_back({"nids", {{64, 0.5}, {512, 1.0}}, "#123456", true});
  auto doc = line_chart(c);
  auto p = parse(doc);
  ASSERT_TRUE(p.ok) << p.error << "\n" << doc;
  EXPECT_EQ(p.root, "svg");
  EXPECT_EQ(p.polylines, 2);
  EXPECT_EQ(p.circles, 5);  // one marker per point
  EXPECT_TRUE(has_text(p, "benefit vs size"));
  EXPECT_TRUE(has_text(p, "bytes"));
  EXPECT_TRUE(has_text(p, "ratio"));
  EXPECT_TRUE(has_text(p, "ipsec"));
  EXPECT_TRUE(has_text(p, "nids"));
  EXPECT_NE(doc.find("stroke-dasharray"), std::string::npos);  // the dashed series
  EXPECT_NE(doc.find("#123456"), std::string::npos);           // its own colour
}

TEST(SvgChart, EscapesMarkupInNames) {
  chart c;
  c.title = "a < b & \"c\"";
  c.lines.push_back({"<x> & 'y'", {{1, 1}, {2, 2}}, "", false});
  auto p = parse(line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(has_text(p, "a < b & \"c\""));
  EXPECT_TRUE(has_text(p, "<x> & 'y'"));
  EXPECT_EQ(escape("<&>\"'"), "&lt;&amp;&gt;&quot;&apos;");
}

TEST(SvgChart, EmptyAndDegenerateChartsAreStillValid) {
  EXPECT_TRUE(parse(line_chart(chart{})).ok);
  chart one;
  one.lines.push_back({"flat", {{512, 3}}, "", false});
  auto p = parse(line_chart(one));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.polylines, 1);
  chart nan;
  nan.lines.push_back({"skip", {{1, std::nan("")}, {2, 1}}, "", false});
  auto q = parse(line_chart(nan));
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.circles, 1);  // the non-finite point is left out
}

TEST(SvgChart, TicksAreRoundAndCoverTheRange) {
  auto t = nice_ticks(0, 10.2);
  ASSERT_GE(t.size(), 2u);
  EXPECT_LE(t.front(), 0);
  EXPECT_GE(t.back(), 10.2);
  EXPECT_DOUBLE_EQ(t[1] - t[0], 2);
  auto s = nice_ticks(64, 1500);
  EXPECT_LE(s.front(), 64);
  EXPECT_GE(s.back(), 1500);
  for (std::size_t i = 1; i < s.size(); ++i)
    EXPECT_DOUBLE_EQ(s[i] - s[i - 1], s[1] - s[0]);
  EXPECT_EQ(nice_ticks(3, 3), std::vector<double>{3});
}

}  // namespace
