using KubeDind.Deploy;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// What a kustomization takes into the cluster container (its folder, its bases' folders, the files it names, relative
/// to their common ancestor) and the inputs refused before anything is copied, each in one line.
/// </summary>
public sealed class KustomizationTreeTests
{
    [Fact]
    public void An_overlay_takes_its_own_folder_and_its_bases_relative_to_their_common_ancestor()
    {
        var overlay = ManifestFiles.Path("kustomize/web/overlays/ci/kustomization.yaml");

        var tree = KustomizationTree.Collect(overlay);

        Assert.Equal(ManifestFiles.Path("kustomize/web"), tree.Root);
        Assert.Equal(
            ["base/deployment.yaml", "base/kustomization.yaml", "base/service.yaml", "overlays/ci/greeting.txt", "overlays/ci/kustomization.yaml", "overlays/ci/replicas.yaml"],
            tree.Files.Select(f => Path.GetRelativePath(tree.Root, f).Replace('\\', '/')).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_folder_holding_a_kustomization_is_one_kustomization_source()
    {
        var sources = ManifestReader.ResolveSources(["kustomize/web/overlays/ci", "app"], ManifestFiles.Root);

        Assert.Equal(new ManifestSource(ManifestFiles.Path("kustomize/web/overlays/ci/kustomization.yaml"), true), sources[0]);
        Assert.All(sources.Skip(1), s => Assert.False(s.IsKustomization));
    }

    [Fact]
    public void A_remote_base_is_refused_in_one_line()
    {
        var file = ManifestFiles.Path("kustomize/remote/kustomization.yaml");

        var error = Assert.Throws<KubeDindException>(() => KustomizationTree.Collect(file));

        Assert.Equal($"Deploy: {file} names the remote base 'https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1'; the cluster renders offline: vendor it into a local folder and name that instead.", error.Message);
    }

    [Fact]
    public void A_missing_resource_is_named_in_one_line()
    {
        var file = ManifestFiles.Path("kustomize/missing/kustomization.yaml");

        var error = Assert.Throws<KubeDindException>(() => KustomizationTree.Collect(file));

        Assert.StartsWith($"Deploy: {file} names 'not-here.yaml', which does not exist", error.Message);
    }

    [Fact]
    public void A_folder_scanned_for_plain_manifests_does_not_take_a_kustomization_in_as_a_manifest()
    {
        var error = Assert.Throws<KubeDindException>(() => ManifestReader.ResolveSources(["kustomize/web"], ManifestFiles.Root));

        Assert.StartsWith("Deploy: manifest 'kustomize/web' takes in the kustomization ", error.Message);
        Assert.Contains("name its folder", error.Message);
    }

    [Fact]
    public void Reading_without_a_cluster_says_a_kustomization_is_rendered_in_one()
    {
        var error = Assert.Throws<KubeDindException>(() => ManifestReader.Read(new DeploySettings { Manifests = ["kustomize/web/base"], BaseDirectory = ManifestFiles.Root }));

        Assert.Contains("is a kustomization, which is rendered in a KubeDind cluster's container", error.Message);
    }
}
