// A tokenizer that splits and folds text exactly like SQLite FTS5's `unicode61` tokenizer with its
// default options (remove_diacritics 1; token characters: Unicode 6.1 letters, numbers, private
// use and unassigned code points).
//
// Tokens are maximal runs of token characters; everything else separates them. Each token is
// folded: ASCII upper case to lower case, other letters by Unicode simple case folding, and a
// letter made of an ASCII letter plus one combining diacritic becomes that ASCII letter.
// Combining diacritics (U+0300…) continue a token but are dropped from it; they never start one.
// UTF-8 is decoded as FTS5 does: leniently (a stray continuation byte is its own code point;
// overlong forms, surrogates and U+FFFE/U+FFFF become U+FFFD, a separator).
// The tables come from gen_unicode61_tables.py; the tests compare every code point with SQLite.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace e3::services::bm25::unicode61 {

/// A run of code points >= 0x80 that are not token characters.
struct class_range {
  std::uint32_t lo;   ///< first code point
  std::uint32_t hi;   ///< last code point (inclusive)
  std::uint8_t cls;   ///< 0: separator; 2: diacritic (continues a token, dropped)
};
/// A code point >= 0x80 and what it folds to.
struct fold_entry {
  std::uint32_t from;  ///< code point
  std::uint32_t to;    ///< folded code point
};

extern const class_range class_ranges[];   ///< sorted, disjoint
extern const std::size_t class_range_count;
extern const fold_entry fold_table[];      ///< sorted by `from`
extern const std::size_t fold_table_count;

/// Class of a code point: 0 separator, 1 token character, 2 diacritic.
int classify(std::uint32_t cp);
/// The folded code point (case and diacritic removal) of a token character.
std::uint32_t fold(std::uint32_t cp);

/// Calls `on_token(const std::string& folded)` for every token of `text`, in order. The string
/// is reused: it is valid only during the call.
template <class F>
void tokenize(std::string_view text, F&& on_token) {
  static constexpr auto ascii_class = [] {
    struct table {
      std::uint8_t v[128];
    } t{};
    for (int c = '0'; c <= '9'; ++c)
      t.v[c] = 1;
    for (int c = 'a'; c <= 'z'; ++c)
      t.v[c] = 1;
    for (int c = 'A'; c <= 'Z'; ++c)
      t.v[c] = 1;
    return t;
  }();
  std::string token;
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto* end = p + text.size();
  // Decodes one code point at p (p < end), advancing p; FTS5's READ_UTF8.
  auto read = [&]() -> std::uint32_t {
    std::uint32_t c = *p++;
    if (c >= 0xc0) {
      static constexpr std::uint8_t trans1[64] = {
          0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
          0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
          0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
          0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x00, 0x01, 0x02, 0x03, 0x00, 0x01, 0x00, 0x00};
      c = trans1[c - 0xc0];
      while (p < end && (*p & 0xc0) == 0x80)
        c = (c << 6) + (0x3f & *p++);
      if (c < 0x80 || (c & 0xfffff800) == 0xd800 || (c & 0xfffffffe) == 0xfffe)
        c = 0xfffd;
    }
    return c;
  };
  // Appends a code point as UTF-8; FTS5's WRITE_UTF8.
  auto write = [&](std::uint32_t c) {
    if (c < 0x80) {
      token += char(c);
    } else if (c < 0x800) {
      token += char(0xc0 + ((c >> 6) & 0x1f));
      token += char(0x80 + (c & 0x3f));
    } else if (c < 0x10000) {
      token += char(0xe0 + ((c >> 12) & 0x0f));
      token += char(0x80 + ((c >> 6) & 0x3f));
      token += char(0x80 + (c & 0x3f));
    } else {
      token += char(0xf0 + ((c >> 18) & 0x07));
      token += char(0x80 + ((c >> 12) & 0x3f));
      token += char(0x80 + ((c >> 6) & 0x3f));
      token += char(0x80 + (c & 0x3f));
    }
  };
  while (p < end) {
    // Skip separators (and diacritics: they never start a token).
    std::uint32_t first = 0;
    for (;;) {
      if (p >= end)
        return;
      if (*p < 0x80) {
        if (ascii_class.v[*p]) {
          first = *p++;
          break;
        }
        ++p;
      } else {
        std::uint32_t c = read();
        if (classify(c) == 1) {
          first = c;
          break;
        }
      }
    }
    token.clear();
    if (first < 0x80)
      token += char(first >= 'A' && first <= 'Z' ? first + 32 : first);
    else
      write(fold(first));
    // The rest of the token.
    while (p < end) {
      if (*p < 0x80) {
        if (!ascii_class.v[*p])
          break;
        std::uint8_t c = *p++;
        token += char(c >= 'A' && c <= 'Z' ? c + 32 : c);
        continue;
      }
      const std::uint8_t* at = p;
      std::uint32_t c = read();
      int cls = classify(c);
      if (cls == 0) {
        p = at;  // the separator is consumed by the skip loop
        break;
      }
      if (cls == 1)
        write(fold(c));
    }
    on_token(static_cast<const std::string&>(token));
  }
}

}  // namespace e3::services::bm25::unicode61
