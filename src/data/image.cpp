// Image decode/encode: JPEG through libjpeg-turbo (Debian's libjpeg62-turbo, the decoder of
// torchvision.io.decode_jpeg and Pillow), PNG through libpng (torchvision.io.decode_png's and
// Pillow's), BMP, GIF, PNM and TGA through stb_image, writes through stb_image_write
// (Debian's libstb); converting between the decoders' interleaved (H, W, C) bytes and
// cnnkit's planar (C, H, W) uint8 tensors. Not here: resizing and colour transforms
// (data/transforms), 16-bit or float images (16-bit PNGs and PNMs are read as 8 bits).
#include "cnnkit/data/image.h"

#include "cnnkit/io/file.h"

#include <stb_image.h>
#include <stb_image_write.h>

// jpeglib.h wants size_t and FILE declared before it; jerror.h wants jpeglib.h's
// configuration (whether arithmetic coding is built in) before it.
#include <csetjmp>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

namespace cnnkit::data {

namespace {

int desired_channels(ImageReadMode mode) {
  switch (mode) {
    case ImageReadMode::UNCHANGED: return 0;
    case ImageReadMode::GRAY: return 1;
    case ImageReadMode::GRAY_ALPHA: return 2;
    case ImageReadMode::RGB: return 3;
    case ImageReadMode::RGB_ALPHA: return 4;
  }
  return 0;
}

// H, W, C = height, width, channels.
Tensor hwc_to_chw(const uint8_t* src, int64_t H, int64_t W, int64_t C) {  // src: (H, W, C)
  Tensor out = empty({C, H, W}, TensorOptions(kByte));
  uint8_t* dst = out.data_ptr<uint8_t>();  // (C, H, W)
  const int64_t HW = H * W;
  if (C == 1) {
    std::memcpy(dst, src, static_cast<size_t>(HW));
    return out;
  }
  for (int64_t c = 0; c < C; ++c) {
    uint8_t* plane = dst + c * HW;
    for (int64_t p = 0; p < HW; ++p) plane[p] = src[p * C + c];
  }
  return out;
}

// The (H, W, C) interleaved bytes stb_image_write wants; checks dtype and shape.
std::vector<uint8_t> chw_to_hwc(const char* fn, const std::string& path, const Tensor& image, int& H,
                                int& W, int& C) {
  CNNKIT_CHECK(image.defined(), fn, ": undefined tensor for '", path, "'");
  CNNKIT_CHECK_TYPE(image.scalar_type() == kByte, fn, ": expected a uint8 image for '", path, "', got ",
                    image.scalar_type(), " (convert with .mul(255).clamp(0, 255).to(kByte))");
  Tensor img = image.dim() == 2 ? image.unsqueeze(0) : image;
  CNNKIT_CHECK_SHAPE(img.dim() == 3 && img.size(0) >= 1 && img.size(0) <= 4 && img.size(1) > 0 &&
                         img.size(2) > 0,
                     fn, ": expected an image (C, H, W) with C in 1..4 or (H, W), got ", image.sizes(),
                     " for '", path, "'");
  C = static_cast<int>(img.size(0));
  H = static_cast<int>(img.size(1));
  W = static_cast<int>(img.size(2));
  std::vector<uint8_t> hwc(static_cast<size_t>(C) * H * W);
  auto a = img.accessor<uint8_t, 3>();
  for (int h = 0; h < H; ++h)
    for (int w = 0; w < W; ++w)
      for (int c = 0; c < C; ++c) hwc[(static_cast<size_t>(h) * W + w) * C + c] = a[c][h][w];
  return hwc;
}

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::string*>(ctx);
  out->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

// The most pixels an image may claim (Pillow's DecompressionBombError threshold, twice its
// MAX_IMAGE_PIXELS warning): 178,956,970, about 13,000 x 13,000.
constexpr uint64_t kMaxImagePixels = 178956970;

// The most pixels a file can encode per byte of it, generously, by format: a header claiming
// more describes data the file does not hold. stb fills a truncated JPEG, TGA, BMP, PNM, PSD,
// HDR or PIC with zeros instead of failing, so a 115-byte TGA could claim 38 million pixels:
// 114 MB allocated and seconds of decoding for a black image. Deflate (PNG) and LZW (GIF)
// reach about 8,000 pixels per byte (a blank 1-bit image), JPEG about 500 (a bit of DC per
// 8x8 block), the run-length formats 128 at most. Images of up to 1024 x 1024 pixels pass
// whatever their size.
constexpr uint64_t kAlwaysAllowedPixels = uint64_t{1} << 20;
// Where a JPEG's markers begin after its start-of-image marker, or 0 when the file is no JPEG
// to stb_image: 0xFF, any number of 0xFF fill bytes (stb skips them, as the standard allows
// before every marker), then 0xD8.
size_t jpeg_after_soi(const uint8_t* p, size_t n) {
  if (n < 2 || p[0] != 0xFF) return 0;
  size_t at = 1;
  while (at < n && p[at] == 0xFF) ++at;
  return at < n && p[at] == 0xD8 ? at + 1 : 0;
}

uint64_t max_pixels_per_byte(const uint8_t* p, size_t n, const char*& format) {
  if (n >= 8 && std::memcmp(p, "\x89PNG", 4) == 0) return format = "PNG", uint64_t{1} << 14;
  if (n >= 4 && std::memcmp(p, "GIF8", 4) == 0) return format = "GIF", uint64_t{1} << 14;
  if (jpeg_after_soi(p, n) != 0) return format = "JPEG", uint64_t{1} << 10;
  return format = "BMP, TGA, PNM, PSD, HDR or PIC", uint64_t{1} << 7;
}

// A binary PNM (P5 gray, P6 RGB) must hold all the pixels its header claims: stb_image 2.27
// copies what there is and leaves the rest of its buffer uninitialised. Returns whether the
// file is one, and its bytes per sample.
int check_pnm(const uint8_t* p, size_t n, const std::string& name) {
  if (n < 3 || p[0] != 'P' || (p[1] != '5' && p[1] != '6')) return 0;
  size_t at = 2;
  auto skip = [&] {  // whitespace and # comments, as stb's header reader
    while (at < n && (std::isspace(p[at]) || p[at] == '#')) {
      if (p[at] == '#')
        while (at < n && p[at] != '\n' && p[at] != '\r') ++at;
      else
        ++at;
    }
  };
  auto number = [&](const char* what) {  // stb 2.27 reads them into an int without a check
    uint64_t v = 0;
    while (at < n && std::isdigit(p[at])) {
      v = v * 10 + (p[at++] - '0');
      CNNKIT_CHECK_IO(v <= INT32_MAX, "decode_image: cannot decode '", name, "': its PNM header's ", what,
                      " has more than 9 digits (corrupt)");
    }
    return v;
  };
  skip();
  const uint64_t w = number("width");
  skip();
  const uint64_t h = number("height");
  skip();
  const uint64_t maxval = number("maximum value");
  ++at;  // the one whitespace character before the data
  const uint64_t pixel_bytes = (p[1] == '5' ? 1 : 3) * (maxval > 255 ? 2 : 1);
  const uint64_t have = at < n ? n - at : 0;
  CNNKIT_CHECK_IO(w * h <= have / pixel_bytes, "decode_image: cannot decode '", name, "': its PNM header claims ", w,
                  "x", h, " pixels of ", pixel_bytes, " bytes, the file has ", have, " after the header (truncated)");
  return maxval > 255 ? 2 : 1;
}

// Gray from R, G, B as torchvision.io.decode_png computes it: libpng's rgb_to_gray with
// torchvision's coefficients 0.2989 and 0.587 in libpng's 15-bit fixed point, truncated
// (9794 = 0.2989 * 32768 and 19234 = 0.587 * 32768, truncated; blue takes the rest, 3740).
// Equal R, G and B give that value back. (stb_image's own is (77 R + 150 G + 29 B) >> 8,
// Pillow's convert("L") (299 R + 587 G + 114 B) / 1000 rounded: each a level apart here
// and there.)
inline uint8_t luma(unsigned r, unsigned g, unsigned b) {
  return static_cast<uint8_t>((9794 * r + 19234 * g + 3740 * b) >> 15);
}

// Pixels of `from` channels (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA) as `to` channels, as
// torchvision.io's read modes convert them: gray from colour by luma(), alpha dropped or
// added as 255 (opaque), gray repeated into R, G and B. For GRAY and GRAY_ALPHA of colour
// files (stb would use its own gray), the 16-bit PNMs (stb_image 2.27 converts them as if
// they were 8-bit, reading twice the bytes it allocated; fixed in stb 2.28) and CMYK JPEGs
// after their conversion to RGB.
std::vector<uint8_t> convert_channels(const uint8_t* src, int64_t pixels, int from, int to) {
  std::vector<uint8_t> out(static_cast<size_t>(pixels * to));
  const bool colour = from >= 3, alpha = from == 2 || from == 4;
  for (int64_t i = 0; i < pixels; ++i) {
    const uint8_t* s = src + i * from;
    uint8_t* d = out.data() + i * to;
    if (to <= 2) {
      d[0] = colour ? luma(s[0], s[1], s[2]) : s[0];
    } else {
      for (int c = 0; c < 3; ++c) d[c] = colour ? s[c] : s[0];
    }
    if (to == 2 || to == 4) d[to - 1] = alpha ? s[from - 1] : 255;
  }
  return out;
}

// (H, W, from) interleaved pixels as a (to, H, W) tensor, through convert_channels when the
// channel counts differ.
Tensor planar(const uint8_t* hwc, int64_t H, int64_t W, int from, int to) {
  if (to == from) return hwc_to_chw(hwc, H, W, to);
  return hwc_to_chw(convert_channels(hwc, H * W, from, to).data(), H, W, to);
}

// Whether the file begins with the PNG signature.
bool is_png(const uint8_t* p, size_t n) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return n >= 8 && std::memcmp(p, kSignature, 8) == 0;
}

// Every chunk of a PNG must fit in the bytes after it: a truncated file is named with the
// chunk it ends in, where libpng would only say that it ended. (stb_image 2.27, which decoded
// PNG before libpng, grew its buffer to what an IDAT chunk's length claimed before reading
// it: a few bytes claiming 2 GiB cost 2 GiB.)
void check_png_chunks(const uint8_t* p, size_t n, const std::string& name) {
  if (!is_png(p, n)) return;
  for (size_t at = 8; n - at >= 8;) {
    const uint64_t length = (uint64_t{p[at]} << 24) | (uint64_t{p[at + 1]} << 16) | (uint64_t{p[at + 2]} << 8) | p[at + 3];
    std::string type(reinterpret_cast<const char*>(p + at + 4), 4);
    for (char& c : type)
      if (!std::isalpha(static_cast<unsigned char>(c))) c = '?';
    CNNKIT_CHECK_IO(length <= n - at - 8, "decode_image: cannot decode '", name, "': PNG chunk '", type, "' at byte ",
                    at, " claims ", length, " bytes, the file has ", n - at - 8, " after it (truncated or corrupt)");
    if (type == "IEND") return;
    at += 8 + static_cast<size_t>(length) + std::min<size_t>(4, n - at - 8 - static_cast<size_t>(length));  // + CRC
  }
}

// A JPEG Huffman table codes at most 256 symbols. stb_image 2.27 wrote a table's code sizes
// and symbols into 257- and 256-byte arrays without checking the sum of its 16 counts (up to
// 4080), past their end; libjpeg, which decodes JPEG now, refuses such a table as a "bogus
// Huffman table definition", and this check, kept before it, says which table and how many
// codes. It walks the markers segment by segment and through entropy-coded data, and checks
// every table of every DHT segment while the segment's length says more follow.
void check_jpeg_huffman_tables(const uint8_t* p, size_t n, const std::string& name) {
  const size_t start = jpeg_after_soi(p, n);  // fill bytes before the SOI too (a fuzzing find)
  if (start == 0) return;
  auto byte = [&](size_t i) -> unsigned { return i < n ? p[i] : 0; };  // stb reads 0 past the end
  for (size_t at = start; at + 1 < n;) {
    if (p[at] != 0xFF) {  // entropy-coded data: on to the next marker
      ++at;
      continue;
    }
    const unsigned m = p[at + 1];
    if (m == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // stuffed 0xFF, TEM, RSTn, SOI: no length
      at += 2;
      continue;
    }
    if (m == 0xD9) return;  // EOI
    const size_t length = (byte(at + 2) << 8) | byte(at + 3);
    if (m == 0xC4) {
      int64_t left = static_cast<int64_t>(length) - 2;
      for (size_t t = at + 4; left > 0;) {
        const unsigned q = byte(t);
        if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb rejects the segment
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += byte(t + i);
        CNNKIT_CHECK_IO(codes <= 256, "decode_image: cannot decode '", name, "': JPEG Huffman table ", q & 15, " (",
                        (q >> 4) ? "AC" : "DC", ") in the DHT segment at byte ", at, " declares ", codes,
                        " codes; a table holds at most 256 (corrupt file)");
        t += 17 + codes;
        left -= static_cast<int64_t>(17 + codes);
      }
    }
    at += 2 + length;
  }
}

// Refuses a header that claims more pixels than Pillow decodes (its decompression-bomb
// limit) or than a file of this format and size can hold; before any pixel is allocated.
void check_claimed_pixels(int64_t w, int64_t h, const uint8_t* p, size_t n, const std::string& name) {
  // stb reports a top-down BMP's height as the header has it, negative; it decodes |h| rows.
  const uint64_t pixels = static_cast<uint64_t>(std::abs(w)) * static_cast<uint64_t>(std::abs(h));
  CNNKIT_CHECK_IO(pixels <= kMaxImagePixels, "decode_image: '", name, "' claims ", w, "x", h, " = ", pixels,
                  " pixels, more than the ", kMaxImagePixels,
                  " decoded (Pillow's decompression-bomb limit): a corrupt or hostile header");
  const char* format = "";
  const uint64_t per_byte = max_pixels_per_byte(p, n, format);
  CNNKIT_CHECK_IO(pixels <= std::max(kAlwaysAllowedPixels, per_byte * n), "decode_image: '", name, "' claims ", w,
                  "x", h, " = ", pixels, " pixels in ", n, " bytes, more than a ", format,
                  " file of that size can hold (", per_byte, " pixels per byte): truncated or corrupt");
}

// stb_image also reads Photoshop, Radiance HDR and Softimage PIC files, which no image
// dataset holds (torchvision's ImageFolder lists none of them) and whose stb 2.27 decoders
// are among those its later versions fixed after fuzzing: refused by their signature, the
// first bytes stb itself tests them by.
void refuse_unsupported_format(const uint8_t* p, size_t n, const std::string& name) {
  auto starts = [&](const char* magic, size_t len) { return n >= len && std::memcmp(p, magic, len) == 0; };
  const char* format = starts("8BPS", 4)                                      ? "a Photoshop (PSD)"
                       : starts("#?RADIANCE", 10) || starts("#?RGBE", 6)      ? "a Radiance HDR"
                       : starts("\x53\x80\xF6\x34", 4)                        ? "a Softimage PIC"
                                                                               : nullptr;
  CNNKIT_CHECK_IO(format == nullptr, "decode_image: cannot decode '", name, "': ", format,
                  " file; cnnkit decodes JPEG, PNG, BMP, GIF, PNM and TGA images");
}

// ---- JPEG through libjpeg-turbo ----
// Its pixels are torchvision.io.decode_jpeg's and Pillow's bit for bit (the same library and
// defaults: the accurate integer IDCT, smooth chroma upsampling); stb_image's IDCT and
// upsampling differ from them by a few levels. And it says when a file is corrupt, where
// stb 2.27 decodes around missing data with zeros (and, in a progressive scan cut short by a
// marker, shifts by more than 32 bits: undefined behaviour that fuzzing found).

// The most scans a progressive JPEG may have (libjpeg-turbo's own TurboJPEG limit is 500):
// each scan passes over the whole coefficient buffer, so a small file of thousands of
// one-coefficient scans would take seconds to decode. Real encoders write about 10.
constexpr int kMaxJpegScans = 1000;

struct JpegErrorManager {
  jpeg_error_mgr mgr;  // first: libjpeg hands its callbacks a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg's warnings. Those after which it goes on with zeros or gray where it could not read
// the data fail the decode: the image would not be the file's. The rest (stray bytes before a
// marker, an unknown JFIF revision or Adobe transform, a bad ICC profile) leave the pixels as
// encoded and pass, as in torchvision and Pillow.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  switch (cinfo->err->msg_code) {
    case JWRN_HIT_MARKER:
    case JWRN_JPEG_EOF:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION:
      jpeg_fail(cinfo);
    default:
      return;
  }
}

void jpeg_count_scans(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxJpegScans) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "more than %d progressive scans (corrupt or hostile)",
                  kMaxJpegScans);
    std::longjmp(err->jump, 1);
  }
}

// Adobe's CMYK as libjpeg hands it over (inverted: 255 is no ink) to RGB, as stb_image and
// Pillow's convert("RGB") do it: R = C * K / 255, rounded.
uint8_t ink(unsigned c, unsigned k) {
  const unsigned t = c * k + 128;
  return static_cast<uint8_t>((t + (t >> 8)) >> 8);
}

// What libjpeg or libpng decodes: (H, W, C) bytes; C 1 (gray), 3 (RGB) or 4 (CMYK) from
// libjpeg, 1 to 4 (gray, gray + alpha, RGB, RGBA) from libpng.
struct Pixels {
  std::vector<uint8_t> hwc;
  int64_t H = 0, W = 0;
  int C = 0;
  std::vector<uint8_t*> rows;  // libpng's: a pointer to each row of hwc
};

// Decodes with libjpeg into `out`; false with `message` set when libjpeg failed. Nothing
// between the setjmp and libjpeg's calls has a destructor, so the longjmp from libjpeg's
// error handler skips none (out lives in the caller).
bool jpeg_decode(const uint8_t* p, size_t n, bool gray, Pixels& out, std::string& message,
                 const std::string& name) {
  jpeg_decompress_struct cinfo{};  // zeroed: destroying it before jpeg_create_decompress is a no-op
  JpegErrorManager err;
  jpeg_progress_mgr progress{};
  progress.progress_monitor = jpeg_count_scans;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_message;
  // Destroys the decompressor however this returns: after a longjmp back to the setjmp below
  // (the guard lives in this frame, so it is not skipped) or an exception.
  struct Guard {
    jpeg_decompress_struct* cinfo;
    ~Guard() { jpeg_destroy_decompress(cinfo); }
  } guard{&cinfo};
  if (setjmp(err.jump)) {
    message = err.message;
    return false;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, p, static_cast<unsigned long>(n));
  jpeg_read_header(&cinfo, TRUE);
  check_claimed_pixels(cinfo.image_width, cinfo.image_height, p, n, name);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  // Gray straight from libjpeg (the luma channel of a YCbCr file, as torchvision's GRAY);
  // libjpeg has no CMYK to gray or RGB, so those come out as CMYK and are converted after.
  if (cmyk)
    cinfo.out_color_space = JCS_CMYK;
  else
    cinfo.out_color_space = gray || cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out.H = cinfo.output_height;
  out.W = cinfo.output_width;
  out.C = cinfo.output_components;
  const size_t row_bytes = static_cast<size_t>(out.W) * out.C;
  out.hwc.resize(row_bytes * static_cast<size_t>(out.H));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.hwc.data() + row_bytes * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  return true;
}

Tensor decode_jpeg(const uint8_t* p, size_t n, const std::string& name, ImageReadMode mode) {
  // stb_image and the standard allow 0xFF fill bytes before the SOI marker; libjpeg wants
  // the file to begin FF D8.
  const size_t soi = jpeg_after_soi(p, n) - 2;
  const int want = desired_channels(mode);
  Pixels px;
  std::string why;
  if (!jpeg_decode(p + soi, n - soi, want == 1 || want == 2, px, why, name))
    CNNKIT_CHECK_IO(false, "decode_image: cannot decode '", name, "': ", why, " (libjpeg)");
  CNNKIT_CHECK_IO(px.H > 0 && px.W > 0, "decode_image: cannot decode '", name, "': it decodes to an empty ", px.W,
                  "x", px.H, " image");
  const int64_t pixels = px.H * px.W;
  if (px.C == 4) {  // CMYK to RGB
    std::vector<uint8_t> rgb(static_cast<size_t>(pixels) * 3);
    for (int64_t i = 0; i < pixels; ++i)
      for (int c = 0; c < 3; ++c) rgb[i * 3 + c] = ink(px.hwc[i * 4 + c], px.hwc[i * 4 + 3]);
    px.hwc = std::move(rgb);
    px.C = 3;
  }
  return planar(px.hwc.data(), px.H, px.W, px.C, want ? want : px.C);
}

// ---- PNG through libpng ----
// The decoder of torchvision.io.decode_png and Pillow. stb_image 2.27's PNG reader (Debian
// 12's) is among the parts of it that later versions fixed after fuzzing; libpng checks every
// chunk's CRC and says why a file is corrupt.

// libpng's error state: its error callback formats the message here and jumps back.
struct PngFailure {
  std::jmp_buf jump;
  char message[256];
};

// The file's bytes, handed to libpng as its read callback asks for them.
struct PngSource {
  const uint8_t* p;
  size_t n;
  size_t at;
};

[[noreturn]] void png_fail(png_structp png, png_const_charp message) {
  auto* failure = static_cast<PngFailure*>(png_get_error_ptr(png));
  std::snprintf(failure->message, sizeof failure->message, "%s", message);
  std::longjmp(failure->jump, 1);
}

// libpng's warnings leave the pixels as encoded (an ancillary chunk with a bad CRC, which it
// drops; extra image data after the last row; an unknown sRGB or iCCP profile), as in
// torchvision and Pillow: not printed, as a data loader's worker would print them per image.
void png_warn(png_structp, png_const_charp) {}

void png_read_bytes(png_structp png, png_bytep data, size_t length) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > src->n - src->at) {
    char message[128];
    std::snprintf(message, sizeof message, "the file ends at byte %zu, within a chunk (truncated)", src->n);
    png_error(png, message);
  }
  std::memcpy(data, src->p + src->at, length);
  src->at += length;
}

// Decodes with libpng into `out`, expanded to 8-bit gray, gray + alpha, RGB or RGBA as
// stb_image did it: palettes to their colours, a tRNS chunk to an alpha channel, 1, 2 and
// 4-bit gray scaled to 0..255, 16-bit samples to their high byte, interlaced passes
// combined. false with `message` set when libpng failed. As in jpeg_decode, nothing between
// the setjmp and libpng's calls has a destructor.
bool png_decode(const uint8_t* p, size_t n, Pixels& out, std::string& message, const std::string& name) {
  PngFailure failure{};
  PngSource src{p, n, 0};
  // Destroys libpng's structures however this returns: after a longjmp back to the setjmp
  // below (the guard lives in this frame, so it is not skipped) or an exception.
  struct Guard {
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~Guard() { png_destroy_read_struct(&png, &info, nullptr); }
  } guard;
  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, png_fail, png_warn);
  CNNKIT_CHECK_IO(guard.png != nullptr, "decode_image: cannot decode '", name, "': out of memory (libpng)");
  guard.info = png_create_info_struct(guard.png);
  CNNKIT_CHECK_IO(guard.info != nullptr, "decode_image: cannot decode '", name, "': out of memory (libpng)");
  png_structp png = guard.png;
  png_infop info = guard.info;
  if (setjmp(failure.jump)) {
    message = failure.message;
    return false;
  }
  png_set_read_fn(png, &src, png_read_bytes);
  png_read_info(png, info);
  check_claimed_pixels(png_get_image_width(png, info), png_get_image_height(png, info), p, n, name);
  const int colour = png_get_color_type(png, info);
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colour == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_strip_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.H = png_get_image_height(png, info);
  out.W = png_get_image_width(png, info);
  out.C = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != static_cast<size_t>(out.W) * out.C) png_fail(png, "unexpected row size after its conversion");
  out.hwc.resize(row_bytes * static_cast<size_t>(out.H));
  out.rows.resize(static_cast<size_t>(out.H));
  for (size_t y = 0; y < out.rows.size(); ++y) out.rows[y] = out.hwc.data() + row_bytes * y;
  png_read_image(png, out.rows.data());
  return true;
}

Tensor decode_png(const uint8_t* p, size_t n, const std::string& name, ImageReadMode mode) {
  Pixels px;
  std::string why;
  if (!png_decode(p, n, px, why, name))
    CNNKIT_CHECK_IO(false, "decode_image: cannot decode '", name, "': ", why, " (libpng)");
  const int want = desired_channels(mode);
  return planar(px.hwc.data(), px.H, px.W, px.C, want ? want : px.C);
}

}  // namespace

Tensor decode_image_from_memory(const void* bytes, size_t nbytes, const std::string& name,
                                ImageReadMode mode) {
  CNNKIT_CHECK_IO(nbytes > 0, "decode_image: cannot decode '", name, "': empty file");
  CNNKIT_CHECK_IO(nbytes <= static_cast<size_t>(INT32_MAX), "decode_image: cannot decode '", name,
                  "': ", nbytes, " bytes is more than stb_image reads");
  refuse_unsupported_format(static_cast<const uint8_t*>(bytes), nbytes, name);
  check_png_chunks(static_cast<const uint8_t*>(bytes), nbytes, name);
  check_jpeg_huffman_tables(static_cast<const uint8_t*>(bytes), nbytes, name);
  const bool pnm16 = check_pnm(static_cast<const uint8_t*>(bytes), nbytes, name) == 2;
  if (jpeg_after_soi(static_cast<const uint8_t*>(bytes), nbytes) != 0)
    return decode_jpeg(static_cast<const uint8_t*>(bytes), nbytes, name, mode);
  if (is_png(static_cast<const uint8_t*>(bytes), nbytes))
    return decode_png(static_cast<const uint8_t*>(bytes), nbytes, name, mode);
  int w = 0, h = 0, file_c = 0, want = desired_channels(mode);
  // The header's size first: a few hundred bytes can claim 60000 x 60000 pixels, which stb
  // would allocate before finding the data missing.
  if (stbi_info_from_memory(static_cast<const stbi_uc*>(bytes), static_cast<int>(nbytes), &w, &h, &file_c))
    check_claimed_pixels(w, h, static_cast<const uint8_t*>(bytes), nbytes, name);
  // stbi_failure_reason() is thread-local in this stb (STBI_THREAD_LOCAL), so concurrent
  // decodes in loader threads each see their own reason.
  // The file's own channels where cnnkit converts them (convert_channels): gray from colour
  // as torchvision computes it, and the 16-bit PNMs.
  const int stb_want = pnm16 || want == 1 || want == 2 ? 0 : want;
  uint8_t* pixels = stbi_load_from_memory(static_cast<const stbi_uc*>(bytes), static_cast<int>(nbytes),
                                          &w, &h, &file_c, stb_want);
  if (!pixels) {
    const char* why = stbi_failure_reason();
    CNNKIT_CHECK_IO(false, "decode_image: cannot decode '", name, "': ", why ? why : "unknown reason");
  }
  if (w <= 0 || h <= 0) {  // stb decodes a PNM header of width 0 into an empty buffer
    stbi_image_free(pixels);
    CNNKIT_CHECK_IO(false, "decode_image: cannot decode '", name, "': it decodes to an empty ", w, "x", h, " image");
  }
  const int C = want ? want : file_c;
  Tensor out;
  try {
    out = planar(pixels, h, w, stb_want ? C : file_c, C);  // stb converted to stb_want channels itself
  } catch (...) {
    stbi_image_free(pixels);
    throw;
  }
  stbi_image_free(pixels);
  return out;
}

Tensor decode_image(const std::string& path, ImageReadMode mode) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    std::error_code ec;
    bool exists = std::filesystem::exists(path, ec);
    CNNKIT_CHECK_IO(false, "decode_image: cannot open '", path, "': ",
                    exists ? std::strerror(errno) : "no such file");
  }
  std::streamoff size = f.tellg();
  CNNKIT_CHECK_IO(size >= 0, "decode_image: cannot read the size of '", path, "'");
  std::vector<char> bytes(static_cast<size_t>(size));
  f.seekg(0);
  CNNKIT_CHECK_IO(size == 0 || f.read(bytes.data(), size), "decode_image: cannot read '", path, "'");
  return decode_image_from_memory(bytes.data(), bytes.size(), path, mode);
}

namespace {

std::string encode_png_named(const std::string& path, const Tensor& image, int compression_level) {
  int H, W, C;
  std::vector<uint8_t> hwc = chw_to_hwc("write_png", path, image, H, W, C);
  CNNKIT_CHECK(compression_level >= 0 && compression_level <= 9,
               "write_png: compression_level must be in [0, 9], got ", compression_level);
  // stb's compression level is a process-wide global: set it and encode under one lock.
  static std::mutex level_mutex;
  std::string out;
  int ok;
  {
    std::lock_guard<std::mutex> lock(level_mutex);
    stbi_write_png_compression_level = compression_level;
    ok = stbi_write_png_to_func(append_bytes, &out, W, H, C, hwc.data(), W * C);
  }
  CNNKIT_CHECK_IO(ok, "write_png: stb_image_write failed to encode '", path, "'");
  return out;
}

}  // namespace

void write_png(const std::string& path, const Tensor& image, int compression_level) {
  io::write_file_atomic(path, encode_png_named(path, image, compression_level), "write_png");
}

std::string encode_png(const Tensor& image, int compression_level) {
  return encode_png_named("<memory>", image, compression_level);
}

void write_jpeg(const std::string& path, const Tensor& image, int quality) {
  int H, W, C;
  std::vector<uint8_t> hwc = chw_to_hwc("write_jpeg", path, image, H, W, C);
  CNNKIT_CHECK(quality >= 1 && quality <= 100, "write_jpeg: quality must be in [1, 100], got ", quality);
  std::string out;
  int ok = stbi_write_jpg_to_func(append_bytes, &out, W, H, C, hwc.data(), quality);
  CNNKIT_CHECK_IO(ok, "write_jpeg: stb_image_write failed to encode '", path, "'");
  io::write_file_atomic(path, out, "write_jpeg");
}

void write_bmp(const std::string& path, const Tensor& image) {
  int H, W, C;
  std::vector<uint8_t> hwc = chw_to_hwc("write_bmp", path, image, H, W, C);
  std::string out;
  int ok = stbi_write_bmp_to_func(append_bytes, &out, W, H, C, hwc.data());
  CNNKIT_CHECK_IO(ok, "write_bmp: stb_image_write failed to encode '", path, "'");
  io::write_file_atomic(path, out, "write_bmp");
}

}  // namespace cnnkit::data
