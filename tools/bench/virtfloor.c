/* virtfloor.c — the floor qkvm's reconcile is measured against: the least a
 * C program must do against libvirt for the same result, nothing else.
 *
 *   virtfloor list URI            connect, list all domains and the running ones,
 *                                 fetch each XML, and each running domain's
 *                                 persistent XML too (what a plan must compare:
 *                                 an edit of the definition alone is drift)
 *   virtfloor create URI N PREFIX NETWORK
 *                                 connect, list, then define + start the
 *                                 domains PREFIX-1..N that are missing
 *                                 (64 MiB, TCG, one NIC on NETWORK)
 *
 * Prints the number of libvirt calls it made.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet(void *d, virErrorPtr e)
{
    (void)d;
    (void)e;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "create") == 0 && argc != 6)) {
        fprintf(stderr, "usage: virtfloor list URI | create URI N PREFIX NETWORK\n");
        return 2;
    }
    virSetErrorFunc(NULL, quiet);
    virConnectPtr c = virConnectOpen(argv[2]);
    if (!c) {
        fprintf(stderr, "virtfloor: %s\n", virGetLastErrorMessage());
        return 1;
    }
    unsigned long calls = 1;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(c, &doms, 0);
    calls++;
    if (n < 0) {
        fprintf(stderr, "virtfloor: %s\n", virGetLastErrorMessage());
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[1], "list") == 0) {
        virDomainPtr *running = NULL;
        int nr = virConnectListAllDomains(c, &running, VIR_CONNECT_LIST_DOMAINS_ACTIVE |
                                                          VIR_CONNECT_LIST_DOMAINS_PERSISTENT);
        calls++;
        for (int i = 0; i < n; i++) {
            char *x = virDomainGetXMLDesc(doms[i], 0);
            calls++;
            if (!x)
                rc = 1;
            free(x);
        }
        for (int i = 0; i < nr; i++) {
            char *x = virDomainGetXMLDesc(running[i], VIR_DOMAIN_XML_INACTIVE);
            calls++;
            if (!x)
                rc = 1;
            free(x);
            virDomainFree(running[i]);
        }
        free(running);
    } else {
        int want = (int)strtol(argv[3], NULL, 10);
        for (int i = 1; i <= want; i++) {
            char name[128], xml[2048];
            snprintf(name, sizeof(name), "%s-%d", argv[4], i);
            int have = 0;
            for (int j = 0; j < n && !have; j++)
                have = strcmp(virDomainGetName(doms[j]), name) == 0;
            if (have)
                continue;
            snprintf(xml, sizeof(xml),
                     "<domain type='qemu'><name>%s</name>"
                     "<memory unit='KiB'>65536</memory><currentMemory unit='KiB'>65536</currentMemory>"
                     "<vcpu placement='static'>1</vcpu>"
                     "<os><type arch='x86_64'>hvm</type></os><features><acpi/></features>"
                     "<devices><interface type='network'><source network='%s'/>"
                     "<model type='virtio'/></interface>"
                     "<serial type='pty'/><console type='pty'/></devices></domain>",
                     name, argv[5]);
            virDomainPtr d = virDomainDefineXML(c, xml);
            calls++;
            if (!d || (calls++, virDomainCreate(d) < 0)) {
                fprintf(stderr, "virtfloor: %s: %s\n", name, virGetLastErrorMessage());
                rc = 1;
            }
            if (d)
                virDomainFree(d);
        }
    }
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    virConnectClose(c);
    printf("%lu\n", calls);
    return rc;
}
