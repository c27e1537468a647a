/* A test plugin carrying metadata (the "before" file of the replace tests). */
#include "dlreg/metadata.h"

DLREG_PLUGIN_METADATA("{\"name\":\"scan-a\",\"version\":1,\"keys\":[\"png\",\"jpeg\"]}");

__attribute__((visibility("default"))) int scan_plugin_id(void);

int scan_plugin_id(void)
{
	return 1;
}
