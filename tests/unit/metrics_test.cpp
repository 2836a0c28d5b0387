// Metrics (signaling/metrics.h): the Prometheus text a scraper reads.
#include "signaling/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>

namespace rtcmesh::sig {
namespace {

TEST(Metrics, GroupsSamplesUnderOneHelpAndType) {
  Metrics m;
  m.counter("rtcmesh_packets_in_total", "RTP packets received", {{"room", "r1"}}, 123);
  m.gauge("rtcmesh_subscribers", "Subscribers per room", {{"room", "r1"}}, 2u);
  m.counter("rtcmesh_packets_in_total", "ignored: the first help stays", {{"room", "r2"}},
            uint64_t{18446744073709551615u});
  m.gauge("rtcmesh_up", "Always 1", {}, true);
  EXPECT_EQ(m.text(),
            "# HELP rtcmesh_packets_in_total RTP packets received\n"
            "# TYPE rtcmesh_packets_in_total counter\n"
            "rtcmesh_packets_in_total{room=\"r1\"} 123\n"
            "rtcmesh_packets_in_total{room=\"r2\"} 18446744073709551615\n"
            "# HELP rtcmesh_subscribers Subscribers per room\n"
            "# TYPE rtcmesh_subscribers gauge\n"
            "rtcmesh_subscribers{room=\"r1\"} 2\n"
            "# HELP rtcmesh_up Always 1\n"
            "# TYPE rtcmesh_up gauge\n"
            "rtcmesh_up 1\n");
  EXPECT_EQ(Metrics().text(), "");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Metrics m;
  m.gauge("x", "line one\nback\\slash \"quotes\" stay", {{"a", "q\"b\\s\nn"}, {"b", ""}}, -1);
  EXPECT_EQ(m.text(),
            "# HELP x line one\\nback\\\\slash \"quotes\" stay\n"
            "# TYPE x gauge\n"
            "x{a=\"q\\\"b\\\\s\\nn\",b=\"\"} -1\n");
}

TEST(Metrics, FloatingValues) {
  Metrics m;
  m.gauge("g", "h", {{"v", "half"}}, 0.5);
  m.gauge("g", "h", {{"v", "nan"}}, std::numeric_limits<double>::quiet_NaN());
  m.gauge("g", "h", {{"v", "inf"}}, std::numeric_limits<double>::infinity());
  m.gauge("g", "h", {{"v", "-inf"}}, -std::numeric_limits<double>::infinity());
  m.gauge("g", "h", {{"v", "tenth"}}, 0.1);
  EXPECT_EQ(m.text(),
            "# HELP g h\n# TYPE g gauge\n"
            "g{v=\"half\"} 0.5\n"
            "g{v=\"nan\"} NaN\n"
            "g{v=\"inf\"} +Inf\n"
            "g{v=\"-inf\"} -Inf\n"
            "g{v=\"tenth\"} 0.10000000000000001\n");
}

TEST(Metrics, RefusesBadNamesAndTypeClashes) {
  Metrics m;
  for (const char* bad : {"", "1abc", "has space", "dash-ed", "é"})
    EXPECT_THROW(m.counter(bad, "h", {}, 1), std::invalid_argument) << bad;
  for (const char* bad : {"", "__reserved", "a:b", "9x", "a-b"})
    EXPECT_THROW(m.gauge("ok", "h", {{bad, "v"}}, 1), std::invalid_argument) << bad;
  EXPECT_TRUE(Metrics::valid_name("rtcmesh:rule_total"));
  EXPECT_TRUE(Metrics::valid_name("_x9"));
  EXPECT_TRUE(Metrics::valid_label_name("_room1"));
  m.counter("c_total", "h", {}, 1);
  EXPECT_THROW(m.gauge("c_total", "h", {}, 1), std::invalid_argument);
  // Nothing refused made it into the text.
  EXPECT_EQ(m.text(), "# HELP c_total h\n# TYPE c_total counter\nc_total 1\n");
}

}  // namespace
}  // namespace rtcmesh::sig
