/* yamlfloor.c — the floor for `qkvm validate`: read every *.yaml / *.yml file
 * below a directory (sorted, as qkvm does) and run libyaml's parser over it,
 * discarding the events. Nothing else: no tree, no decoding, no checks.
 * Prints the number of files and events. Used by tools/bench/run. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

static size_t files, events;

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void parse_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    yaml_parser_t p;
    yaml_event_t ev;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (unsigned char *)buf, (size_t)n);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            fprintf(stderr, "%s: %s\n", path, p.problem);
            exit(1);
        }
        int done = ev.type == YAML_STREAM_END_EVENT;
        events++;
        yaml_event_delete(&ev);
        if (done)
            break;
    }
    yaml_parser_delete(&p);
    free(buf);
    files++;
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        exit(1);
    }
    char **names = NULL;
    size_t len = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        names = realloc(names, (len + 1) * sizeof(*names));
        names[len++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, len, sizeof(*names), cmp);
    for (size_t i = 0; i < len; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        size_t l = strlen(names[i]);
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            walk(path);
        else if ((l > 5 && !strcmp(names[i] + l - 5, ".yaml")) ||
                 (l > 4 && !strcmp(names[i] + l - 4, ".yml")))
            parse_file(path);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: yamlfloor DIR\n");
        return 1;
    }
    walk(argv[1]);
    printf("%zu files, %zu events\n", files, events);
    return 0;
}
