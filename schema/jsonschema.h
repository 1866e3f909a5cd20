/* jsonschema.h — JSON Schema (draft 2020-12) generated from the tables.
 *
 * For editors: yaml-language-server and VS Code validate and complete
 * manifests with it. The schema dispatches on `kind` with if/then, so each
 * document is checked against its own kind. The committed
 * schema/qkvm.schema.json must equal `qkvm schema`; a test checks it.
 */
#ifndef QKVM_JSONSCHEMA_H
#define QKVM_JSONSCHEMA_H

#include "tree.h"

struct arena;

struct tree *jsonschema_build(struct arena *a);

#endif
