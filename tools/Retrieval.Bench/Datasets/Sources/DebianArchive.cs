using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets.Sources;

/// <summary>
/// Fetches Debian packages and package descriptions into a scratch folder without changing the system: apt runs
/// with private lists and cache folders (Dir::State::Lists, Dir::Cache), so neither the machine's package
/// index nor its installed packages change; packages are unpacked with dpkg-deb -x, not installed.
/// </summary>
public sealed class DebianArchive
{
    private readonly string _scratch;
    private bool _updated;

    public DebianArchive(string scratchDirectory)
    {
        _scratch = Path.GetFullPath(scratchDirectory);
        Directory.CreateDirectory(ListsDirectory);
        Directory.CreateDirectory(Path.Combine(ListsDirectory, "partial"));
        Directory.CreateDirectory(Path.Combine(CacheDirectory, "archives", "partial"));
    }

    public string ListsDirectory => Path.Combine(_scratch, "apt", "lists");
    public string CacheDirectory => Path.Combine(_scratch, "apt", "cache");

    private List<string> AptOptions()
    {
        var options = new List<string>
        {
            "-o", $"Dir::State::Lists={ListsDirectory}",
            "-o", $"Dir::Cache={CacheDirectory}",
            "-o", "Acquire::Languages=en",
        };
        // As root apt drops to the _apt user, which cannot write into a root-owned scratch folder.
        if (Environment.IsPrivilegedProcess) options.AddRange(["-o", "APT::Sandbox::User=root"]);
        return options;
    }

    /// <summary>apt-get update into the private lists folder, with the English descriptions (Translation-en).</summary>
    public void Update(CancellationToken cancellationToken)
    {
        if (_updated) return;
        try
        {
            ExternalCommand.Run("apt-get", [.. AptOptions(), "update"], _scratch, cancellationToken);
        }
        catch (RetrievalException e) when (e.Kind == ErrorKind.Incompatible)
        {
            throw new RetrievalException(ErrorKind.Incompatible,
                "could not fetch the Debian package lists (needs apt-get and access to the Debian archive configured in /etc/apt): " + e.Message, e);
        }
        _updated = true;
    }

    /// <summary>Downloads one package (apt-get download) and unpacks it (dpkg-deb -x); returns the unpacked root and the version.</summary>
    public (string Root, string Version) DownloadAndExtract(string package, CancellationToken cancellationToken)
    {
        Update(cancellationToken);
        var debs = Path.Combine(_scratch, "debs");
        Directory.CreateDirectory(debs);
        ExternalCommand.Run("apt-get", [.. AptOptions(), "download", package], debs, cancellationToken);
        string? deb = null;
        foreach (var file in Directory.GetFiles(debs, package + "_*.deb"))
        {
            if (deb is null || string.CompareOrdinal(file, deb) > 0) deb = file;
        }
        if (deb is null) throw new RetrievalException(ErrorKind.NotFound, $"apt-get download {package} left no {package}_*.deb in {debs}");
        var root = Path.Combine(_scratch, "root", package);
        Directory.CreateDirectory(root);
        ExternalCommand.Run("dpkg-deb", ["-x", deb, root], _scratch, cancellationToken);
        var version = ExternalCommand.Run("dpkg-deb", ["-f", deb, "Version"], _scratch, cancellationToken).Trim();
        return (root, version);
    }

    /// <summary>
    /// The Translation-en files of the private lists, decompressed (apt-helper cat-file reads every compression
    /// apt stores), in file-name order.
    /// </summary>
    public IReadOnlyList<string> TranslationFiles(CancellationToken cancellationToken)
    {
        Update(cancellationToken);
        var compressed = new List<string>();
        foreach (var file in Directory.GetFiles(ListsDirectory))
        {
            if (Path.GetFileName(file).Contains("_i18n_Translation-en", StringComparison.Ordinal)) compressed.Add(file);
        }
        compressed.Sort(StringComparer.Ordinal);
        if (compressed.Count == 0)
            throw new RetrievalException(ErrorKind.NotFound,
                $"apt-get update fetched no Translation-en files into {ListsDirectory}: the configured Debian mirror offers no English descriptions");
        var plain = new List<string>();
        var outDir = Path.Combine(_scratch, "translations");
        Directory.CreateDirectory(outDir);
        foreach (var file in compressed)
        {
            var target = Path.Combine(outDir, Path.GetFileNameWithoutExtension(file) + ".txt");
            ExternalCommand.Run("/usr/lib/apt/apt-helper", ["cat-file", file], _scratch, cancellationToken, stdoutFile: target);
            plain.Add(target);
        }
        return plain;
    }

    /// <summary>A short label of the lists used ("deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en", ...).</summary>
    public static string Describe(IReadOnlyList<string> translationFiles) =>
        string.Join(", ", translationFiles.Select(Path.GetFileNameWithoutExtension));
}
