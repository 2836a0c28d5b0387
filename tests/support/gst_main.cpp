// main() for every test executable: initialises GStreamer with the plugin
// registered statically, then runs GoogleTest.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include "gst/elements.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  gst_init(&argc, &argv);
  if (!rtcmesh_register_static()) return 1;
  int rc = RUN_ALL_TESTS();
  gst_deinit();
  return rc;
}
