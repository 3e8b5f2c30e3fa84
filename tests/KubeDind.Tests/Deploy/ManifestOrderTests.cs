using KubeDind.Deploy;

namespace KubeDind.Tests.Deploy;

public sealed class ManifestOrderTests
{
    [Fact]
    public void Objects_are_applied_so_each_finds_what_it_refers_to()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/all-kinds.yaml"), ManifestFiles.Path("awkward/crd.yaml")] });

        var kinds = ManifestOrder.Sort(objects).Select(o => o.Kind).ToList();

        Assert.Equal(
            ["Namespace", "CustomResourceDefinition", "RoleBinding", "ServiceAccount", "Secret", "ConfigMap", "Service", "Deployment", "Ingress", "Widget"],
            kinds);
    }
}
