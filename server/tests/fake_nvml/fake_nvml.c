/* A stand-in for the NVIDIA driver's libnvidia-ml, exposing the handful of NVML entry points
 * inferscope calls, with values a test controls. Built by server/tests/nvml.rs with the system C
 * compiler; STATE_FILE (a path, set with -D) is read on every call:
 *
 *   init <code>                       what nvmlInit_v2 returns (0: success, 9: driver not loaded)
 *   gpu <uuid> <util %> <mem used> <mem total> <power mW> <temp C> <sm MHz> <fail code> <pids>
 *
 * one `gpu` line per device, in index order; <fail code> non-zero makes every call on that GPU
 * return it (15: GPU is lost); <pids> is `pid:bytes,pid:bytes` or `-`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#define MAX_GPUS 16
#define MAX_PROCS 16

typedef int nvmlReturn_t;
typedef struct fake_device *nvmlDevice_t;
typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

struct gpu {
    char uuid[96];
    unsigned int util, power_mw, temp, sm_mhz;
    unsigned long long used, total;
    int fail;
    unsigned int nprocs;
    nvmlProcessInfo_t procs[MAX_PROCS];
};

static int init_code;
static unsigned int count;
static struct gpu gpus[MAX_GPUS];

static void load(void) {
    FILE *file = fopen(STATE_FILE, "r");
    char line[1024];
    init_code = 9;
    count = 0;
    if (!file) return;
    while (fgets(line, sizeof line, file)) {
        if (strncmp(line, "init ", 5) == 0) {
            init_code = atoi(line + 5);
        } else if (strncmp(line, "gpu ", 4) == 0 && count < MAX_GPUS) {
            struct gpu *g = &gpus[count];
            char pids[512];
            memset(g, 0, sizeof *g);
            if (sscanf(line + 4, "%95s %u %llu %llu %u %u %u %d %511s", g->uuid, &g->util,
                       &g->used, &g->total, &g->power_mw, &g->temp, &g->sm_mhz, &g->fail,
                       pids) != 9)
                continue;
            if (strcmp(pids, "-") != 0) {
                char *save = NULL;
                for (char *item = strtok_r(pids, ",", &save); item && g->nprocs < MAX_PROCS;
                     item = strtok_r(NULL, ",", &save)) {
                    unsigned int pid;
                    unsigned long long bytes;
                    if (sscanf(item, "%u:%llu", &pid, &bytes) == 2) {
                        g->procs[g->nprocs].pid = pid;
                        g->procs[g->nprocs].usedGpuMemory = bytes;
                        g->nprocs++;
                    }
                }
            }
            count++;
        }
    }
    fclose(file);
}

static struct gpu *find(nvmlDevice_t device, nvmlReturn_t *code) {
    uintptr_t index = (uintptr_t)device;
    load();
    if (index == 0 || index > count) { *code = 15; return NULL; }
    if (gpus[index - 1].fail) { *code = gpus[index - 1].fail; return NULL; }
    *code = 0;
    return &gpus[index - 1];
}

nvmlReturn_t nvmlInit_v2(void) { load(); return init_code; }
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return nvmlInit_v2(); }
nvmlReturn_t nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(nvmlReturn_t code) {
    switch (code) {
    case 0: return "Success";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
    }
}
nvmlReturn_t nvmlSystemGetDriverVersion(char *out, unsigned int size) {
    snprintf(out, size, "550.54.15");
    return 0;
}
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *out) { load(); *out = count; return 0; }
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *out) {
    load();
    if (index >= count) return 2;
    if (gpus[index].fail) return gpus[index].fail;
    *out = (nvmlDevice_t)(uintptr_t)(index + 1);
    return 0;
}
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *out, unsigned int size) {
    nvmlReturn_t code;
    struct gpu *g = find(device, &code);
    if (!g) return code;
    snprintf(out, size, "%s", g->uuid);
    return 0;
}
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *out, unsigned int size) {
    nvmlReturn_t code;
    if (!find(device, &code)) return code;
    snprintf(out, size, "Stand-in GPU");
    return 0;
}
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *out) {
    nvmlReturn_t code;
    struct gpu *g = find(device, &code);
    if (!g) return code;
    out->gpu = g->util;
    out->memory = g->util / 2;
    return 0;
}
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *out) {
    nvmlReturn_t code;
    struct gpu *g = find(device, &code);
    if (!g) return code;
    out->total = g->total;
    out->used = g->used;
    out->reserved = 0;
    out->free = g->total - g->used;
    return 0;
}
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *out) {
    nvmlReturn_t code;
    struct gpu *g = find(device, &code);
    if (!g) return code;
    *out = g->power_mw;
    return 0;
}
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int *out) {
    nvmlReturn_t code;
    struct gpu *g = find(device, &code);
    (void)sensor;
    if (!g) return code;
    *out = g->temp;
    return 0;
}
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *out) {
    nvmlReturn_t code;
    struct gpu *g = find(device, &code);
    if (!g) return code;
    if (type != 1) return 3; /* only the SM clock */
    *out = g->sm_mhz;
    return 0;
}
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *n,
                                                     nvmlProcessInfo_t *out) {
    nvmlReturn_t code;
    struct gpu *g = find(device, &code);
    if (!g) return code;
    if (out == NULL || *n < g->nprocs) {
        *n = g->nprocs;
        return g->nprocs == 0 ? 0 : 7; /* insufficient size */
    }
    memcpy(out, g->procs, g->nprocs * sizeof *out);
    *n = g->nprocs;
    return 0;
}
