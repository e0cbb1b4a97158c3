/**
 * The Kubernetes manifests are correct by test: every overlay renders with `kubectl kustomize`, and
 * every rendered object (and the Secret template, which no kustomization includes) is valid against
 * the Kubernetes API's JSON schemas and TypeScript interfaces bundled in `kubernetes-models` — no
 * cluster needed.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "../support/deployFiles.ts"
import { deployDir, kubectl, kubectlVersion, overlays, render, yamlDocuments } from "../support/deployFiles.ts"
import { schemaErrors, typeErrors } from "../support/deploySchemas.ts"

const noKubectl = kubectl === undefined
if (noKubectl) {
  console.warn("test/Deploy/Manifests: kubectl is not installed; the kustomize renderings cannot be checked")
}
const skipReason = noKubectl ? " (skipped: kubectl is not installed)" : ""

const secretTemplate = yamlDocuments(
  Fs.readFileSync(Path.join(deployDir, "kubernetes/secret.template.yaml"), "utf8")
) as Array<KubeObject>

/** Every kustomization: the base and each overlay. */
const kustomizations = ["base", ...overlays.map((overlay) => `overlays/${overlay}`)]

describe("Kubernetes manifests", () => {
  it("there is a base and a production overlay", () => {
    assert.include(overlays, "production")
  })

  describe.skipIf(noKubectl)(`kubectl kustomize${skipReason}`, () => {
    for (const dir of kustomizations) {
      it(`renders ${dir}, every object valid against the bundled Kubernetes JSON schemas`, async () => {
        const { objects } = render(dir)
        assert.isAbove(objects.length, 0, `${dir} rendered nothing (${kubectlVersion()})`)
        const errors: Array<string> = []
        for (const object of objects) {
          for (const error of await schemaErrors(object))
            errors.push(`${object.kind} ${object.metadata.name}: ${error}`)
        }
        assert.deepStrictEqual(errors, [])
      })
    }

    it("renders the StatefulSet, both Services, the NetworkPolicy, the PodDisruptionBudget and the HPA in every overlay", () => {
      for (const overlay of overlays) {
        const kinds = render(`overlays/${overlay}`).objects.map((object) => object.kind)
        for (const kind of [
          "StatefulSet",
          "Service",
          "NetworkPolicy",
          "PodDisruptionBudget",
          "HorizontalPodAutoscaler"
        ]) {
          assert.include(kinds, kind, `overlays/${overlay}`)
        }
        assert.notInclude(kinds, "Secret", `overlays/${overlay} must not carry a secret`)
      }
    })

    it("no rendered object has a field the Kubernetes API does not define (TypeScript's excess-property check)", () => {
      const objects = kustomizations.flatMap((dir) => render(dir).objects.map((object) => ({ label: dir, object })))
      const all = [...objects, ...secretTemplate.map((object) => ({ label: "secret.template.yaml", object }))]
      assert.deepStrictEqual(typeErrors(all), [])
    }, 60_000)

    it("the type check would catch a misspelt field and a number given as text", () => {
      const statefulSet = render("base").objects.find((object) => object.kind === "StatefulSet")!
      const broken = structuredClone(statefulSet) as KubeObject & {
        spec: { replicas: unknown; template: { spec: { containers: Array<{ securityContext: object }> } } }
      }
      broken.spec.replicas = "3"
      broken.spec.template.spec.containers[0]!.securityContext = { readOnlyRootFileSystem: true }
      const errors = typeErrors([{ label: "broken", object: broken }]).join("\n")
      assert.match(errors, /readOnlyRootFileSystem/)
      assert.match(errors, /replicas|string/)
    }, 60_000)
  })

  it("the Secret template is valid and carries no secret (an empty value the nodes refuse)", async () => {
    assert.strictEqual(secretTemplate.length, 1)
    const [secret] = secretTemplate as Array<KubeObject & { stringData?: Record<string, string>; data?: unknown }>
    assert.deepStrictEqual(await schemaErrors(secret!), [])
    assert.strictEqual(secret!.kind, "Secret")
    assert.isUndefined(secret!.data)
    assert.deepStrictEqual(secret!.stringData, { secret: "" })
  })
})
