/* Random identifiers: version-4 UUIDs for request, object and tenant ids. */
#ifndef CF_IDS_H
#define CF_IDS_H

#include "result.h"

#define CF_UUID_LEN 36

CF_MUST_USE bool cf_uuid_v4(char out[CF_UUID_LEN + 1]);

#endif
