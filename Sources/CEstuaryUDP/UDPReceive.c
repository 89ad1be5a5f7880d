#define _GNU_SOURCE
#include "CEstuaryUDP.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#if defined(__APPLE__)
struct mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
#endif

int estuary_udp_receive(int fd, unsigned char *buffer, unsigned int slot, unsigned int count, unsigned int *lengths,
                        unsigned char *truncated) {
    struct mmsghdr messages[ESTUARY_UDP_BATCH];
    struct iovec vectors[ESTUARY_UDP_BATCH];
    if (count > ESTUARY_UDP_BATCH) count = ESTUARY_UDP_BATCH;
    if (count == 0) return 0;
    memset(messages, 0, sizeof(struct mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        vectors[i].iov_base = buffer + (size_t)i * slot;
        vectors[i].iov_len = slot;
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    int received;
#ifdef __linux__
    do {
        received = recvmmsg(fd, messages, count, MSG_DONTWAIT, NULL);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
#else
    // No recvmmsg here: one recvmsg per datagram until none is queued.
    received = 0;
    while ((unsigned int)received < count) {
        ssize_t length = recvmsg(fd, &messages[received].msg_hdr, MSG_DONTWAIT);
        if (length < 0 && errno == EINTR) continue;
        if (length < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (received == 0) return -errno;
            break;
        }
        messages[received].msg_len = (unsigned int)length;
        received++;
    }
#endif
    for (int i = 0; i < received; i++) {
        lengths[i] = messages[i].msg_len;
        truncated[i] = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
    }
    return received;
}
