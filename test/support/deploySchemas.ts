/**
 * Kubernetes objects checked against the API's own definitions, offline, with the npm package
 * `kubernetes-models`: its JSON-schema validators (types, required fields, enums, formats) and its
 * TypeScript interfaces, whose excess-property check finds the fields the schemas let through (a
 * misspelt `readOnlyRootFileSystem` is valid JSON schema, since the schemas allow unknown keys).
 */
import * as Path from "node:path"
import ts from "typescript"
import type { KubeObject } from "./deployFiles.ts"
import { root } from "./deployFiles.ts"

/** The module of kubernetes-models that defines a kind: `apps/v1` -> `kubernetes-models/apps/v1/StatefulSet`. */
export const modelModule = (object: KubeObject): string => {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion]
  return `kubernetes-models/${group === "" ? version : `${group}/${version}`}/${object.kind}`
}

interface Model {
  validate(): void
}

/**
 * Validates an object against the JSON schema of its apiVersion and kind; resolves to the
 * validator's messages (empty when valid). An apiVersion/kind the package does not know is a
 * failure, not a skip.
 */
export const schemaErrors = async (object: KubeObject): Promise<Array<string>> => {
  let models: Record<string, new (data: unknown) => Model>
  try {
    models = (await import(modelModule(object))) as Record<string, new (data: unknown) => Model>
  } catch (error) {
    return [`no bundled schema for ${object.apiVersion} ${object.kind}: ${String(error)}`]
  }
  const Model = models[object.kind]
  if (Model === undefined) return [`kubernetes-models has no ${object.kind} in ${modelModule(object)}`]
  try {
    new Model(object).validate()
    return []
  } catch (error) {
    return [String(error instanceof Error ? error.message : error)]
  }
}

/**
 * Type-checks objects as literals of their kubernetes-models interfaces (`const o: IStatefulSet =
 * {...}`) and returns TypeScript's messages: unknown fields (excess properties) and wrong types,
 * each prefixed with the object it is about.
 */
export const typeErrors = (objects: ReadonlyArray<{ readonly label: string; readonly object: KubeObject }>) => {
  const fileName = Path.join(root, "test/Deploy/__manifests__.ts")
  const imports = objects.map(
    ({ object }, index) => `import type { I${object.kind} as T${index} } from ${JSON.stringify(modelModule(object))}`
  )
  // Each object's literal starts on a line of its own: a message is about the last one started above it.
  const starts: Array<{ line: number; label: string }> = []
  const lines = [...imports]
  objects.forEach(({ label, object }, index) => {
    starts.push({ line: lines.length, label: `${label}: ${object.kind} ${object.metadata.name}` })
    lines.push(...`export const object${index}: T${index} = ${JSON.stringify(object, null, 1)}`.split("\n"))
  })
  const source = lines.join("\n")
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    strict: true,
    exactOptionalPropertyTypes: false,
    noEmit: true,
    skipLibCheck: true,
    types: []
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, languageVersion)
      : getSourceFile(name, languageVersion, ...rest)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => name === fileName || fileExists(name)
  const readFile = host.readFile.bind(host)
  host.readFile = (name) => (name === fileName ? source : readFile(name))
  const program = ts.createProgram([fileName], options, host)
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file?.fileName === fileName)
    .map((diagnostic) => {
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
      const owner = starts.filter((start) => start.line <= line).pop()
      return `${owner?.label ?? "imports"}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`
    })
}
