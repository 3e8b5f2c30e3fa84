using System.Globalization;

namespace KubeDind.Cluster;

/// <summary>
/// The inputs of a kube-dind image build, checked before it starts so a wrong one fails in one line: k3s given or
/// downloaded (not both), a given k3s binary an ELF file for the engine's architecture, an air-gap tarball readable.
/// </summary>
internal static class ClusterImageInputs
{
    /// <summary>
    /// Checks every input before the build (downloading k3s when asked to); returns the K3S_SOURCE build argument, the k3s
    /// file for the context and the downloaded release (null for a given binary).
    /// </summary>
    public static async Task<(string Source, string? K3sFile, string? Release)> CheckAsync(KubeDindSession session, ClusterImageSettings settings, CancellationToken cancellationToken)
    {
        var download = settings.K3sDownload || settings.K3sVersion is not null;
        if (settings.K3sBinary is not null && download)
        {
            throw new KubeDindException($"kube-dind image: give either a k3s binary ({settings.K3sBinary}) or a k3s download ({settings.K3sVersion ?? K3sDownload.PinnedVersion}), not both.");
        }

        if (settings.AirgapImagesTarball is { } airgap)
        {
            if (AirgapTarball.SuffixOf(airgap) is null)
            {
                throw new KubeDindException($"kube-dind image: air-gap images tarball '{airgap}' is not one KubeDind takes; pass {AirgapTarball.Described} from the k3s release.");
            }

            try
            {
                await using var stream = File.OpenRead(airgap);
                var probe = new byte[512];
                if (await stream.ReadAsync(probe, cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw new KubeDindException($"kube-dind image: air-gap images tarball '{airgap}' is empty; pass the images tarball from the k3s release.");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new KubeDindException($"kube-dind image: air-gap images tarball '{airgap}' is unreadable ({ex.Message}); check the path and its permissions.", inner: ex);
            }
        }

        if (settings.K3sBinary is null && !download)
        {
            return ("none", null, null);
        }

        var engineArchitecture = (await session.Docker.System.GetSystemInfoAsync(cancellationToken).ConfigureAwait(false)).Architecture;
        if (download)
        {
            var release = settings.K3sVersion ?? K3sDownload.PinnedVersion;
            try
            {
                var file = await new K3sDownload(session.Log, settings.K3sDownloadUrl).GetAsync(release, engineArchitecture, cancellationToken).ConfigureAwait(false);
                return ("context", file, release);
            }
            catch (KubeDindException ex)
            {
                throw new KubeDindException($"kube-dind image: {ex.Message}", ex.Details, ex);
            }
        }

        var k3s = settings.K3sBinary!;
        if (!File.Exists(k3s))
        {
            throw new KubeDindException($"kube-dind image: k3s binary '{k3s}' does not exist; pass the path of a k3s v1.21+ binary, or none for compose mode.");
        }

        var machine = ReadElfMachine(k3s) ?? throw new KubeDindException(
            $"kube-dind image: '{k3s}' is not an executable k3s (not a Linux ELF binary); pass a k3s v1.21+ binary.");
        var expected = engineArchitecture switch { "x86_64" => "x86_64", "aarch64" => "aarch64", _ => null };
        if (expected is not null && machine != expected)
        {
            throw new KubeDindException($"kube-dind image: k3s binary '{k3s}' is built for {machine} but the Docker engine runs {engineArchitecture}; pass a k3s built for {engineArchitecture}.");
        }

        return ("context", k3s, null);
    }

    /// <summary>The ELF machine of <paramref name="path"/> (x86_64, aarch64, or the number), or null when it is no ELF file.</summary>
    public static string? ReadElfMachine(string path)
    {
        var header = new byte[20];
        using (var stream = File.OpenRead(path))
        {
            if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            {
                return null;
            }
        }

        if (header[0] != 0x7F || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F')
        {
            return null;
        }

        var machine = header[5] == 2 ? (header[18] << 8) | header[19] : header[18] | (header[19] << 8);
        return machine switch
        {
            0x3E => "x86_64",
            0xB7 => "aarch64",
            0x28 => "arm",
            _ => machine.ToString(CultureInfo.InvariantCulture),
        };
    }
}
