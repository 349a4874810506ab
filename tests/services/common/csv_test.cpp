// Tests of the CSV reader the `e3 svc` harnesses share.
#include <gtest/gtest.h>

#include "services/common/csv.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3::services;

TEST(Csv, SplitsQuotedFields) {
  std::vector<std::string> f;
  std::string err;
  ASSERT_TRUE(csv::split("1,\"Toy Story, (1995)\",\"say \"\"hi\"\"\",", f, err));
  EXPECT_EQ(f, (std::vector<std::string>{"1", "Toy Story, (1995)", "say \"hi\"", ""}));
  EXPECT_FALSE(csv::split("1,\"open", f, err));
  EXPECT_NE(err.find("unterminated"), std::string::npos);
  EXPECT_FALSE(csv::split("\"a\"b,c", f, err));
}

TEST(Csv, FindsColumnsByNameOrOneBasedNumber) {
  std::vector<std::string> header{"item", "score", "2"};
  EXPECT_EQ(csv::column_index(header, "score"), 1);
  EXPECT_EQ(csv::column_index(header, "2"), 2);  // a name wins over a number
  EXPECT_EQ(csv::column_index(header, "1"), 0);
  EXPECT_EQ(csv::column_index(header, "4"), -1);
  EXPECT_EQ(csv::column_index(header, "0"), -1);
  EXPECT_EQ(csv::column_index(header, "price"), -1);
}

TEST(Csv, FileReaderSkipsEmptyLinesAndNamesTheLineOfAnError) {
  auto path = svc_test::write_temp("e3_csv_reader.csv", "item,score\r\n5,1.5\n\n7,x\n1\n");
  csv::file_reader in;
  std::string err;
  ASSERT_TRUE(in.open(path, err)) << err;
  EXPECT_EQ(in.header(), (std::vector<std::string>{"item", "score"}));
  std::vector<std::string> f;
  ASSERT_TRUE(in.next(f, err));
  EXPECT_EQ(in.line_no(), 2u);
  std::uint64_t key = 0;
  double v = 0;
  EXPECT_TRUE(csv::read_unsigned(in.header(), f, 0, key, err));
  EXPECT_TRUE(csv::read_number(in.header(), f, 1, v, err));
  EXPECT_EQ(key, 5u);
  EXPECT_EQ(v, 1.5);
  ASSERT_TRUE(in.next(f, err));
  EXPECT_EQ(in.line_no(), 4u);
  EXPECT_FALSE(csv::read_number(in.header(), f, 1, v, err));
  EXPECT_EQ(err, "column 'score': 'x' is not a number");
  EXPECT_FALSE(in.next(f, err));
  EXPECT_EQ(err, path + ":5: 1 fields, the header has 2");
}

TEST(Csv, FileReaderReportsMissingAndEmptyFiles) {
  csv::file_reader a;
  std::string err;
  EXPECT_FALSE(a.open("/nonexistent/e3.csv", err));
  EXPECT_EQ(err.rfind("/nonexistent/e3.csv: cannot open: ", 0), 0u) << err;
  auto empty = svc_test::write_temp("e3_csv_empty.csv", "");
  csv::file_reader b;
  EXPECT_FALSE(b.open(empty, err));
  EXPECT_EQ(err, empty + ":1: empty file (a header line is needed)");
}
