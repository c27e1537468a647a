/* A second test plugin: what a scanned file gets replaced with. */
#include "dlreg/metadata.h"

DLREG_PLUGIN_METADATA("{\"name\":\"scan-b\",\"version\":2}");

__attribute__((visibility("default"))) int scan_plugin_id(void);

int scan_plugin_id(void)
{
	return 2;
}
