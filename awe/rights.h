/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Descriptors in a datagram: the one SCM_RIGHTS control message the protocol's replies carry
 * (the server's send_reply), and which the fuzz harnesses forge. */

#ifndef __AWE_RIGHTS_H
#define __AWE_RIGHTS_H

#include <string.h>
#include <sys/socket.h>

/* A control buffer for up to n descriptors, aligned as a cmsghdr must be. */
#define AWE_RIGHTS_BUFFER(n) union { struct cmsghdr align; char bytes[CMSG_SPACE((n) * sizeof(int))]; }

/* Attaches fds[0 .. nfds) to msg as one SCM_RIGHTS message built in control, which must have
 * room for them (AWE_RIGHTS_BUFFER of nfds or more); nothing when nfds is 0. */
static inline void awe_attach_rights( struct msghdr *msg, void *control, const int *fds, int nfds )
{
    struct cmsghdr *cmsg;

    if (nfds <= 0) return;
    memset( control, 0, CMSG_SPACE(nfds * sizeof(int)) );
    msg->msg_control = control;
    msg->msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    cmsg = CMSG_FIRSTHDR( msg );
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy( CMSG_DATA( cmsg ), fds, nfds * sizeof(int) );
}

#endif  /* __AWE_RIGHTS_H */
