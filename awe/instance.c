/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance directory that server and clients meet in. */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "awe/core.h"

int awe_instance_dir( char *buf, size_t size )
{
    const char *dir = getenv( "AWE_SERVER_DIR" ), *runtime = getenv( "XDG_RUNTIME_DIR" );
    int len;

    if (dir && *dir) len = snprintf( buf, size, "%s", dir );
    else if (runtime && *runtime) len = snprintf( buf, size, "%s/awe", runtime );
    else len = snprintf( buf, size, "/tmp/awe-%u", (unsigned int)getuid() );
    return len < 0 || (size_t)len >= size ? -1 : 0;
}
