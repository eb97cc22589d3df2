using System.Diagnostics;

namespace Lguest.Tests.Support;

/// <summary>
/// The lguest launcher that tests, the nested bed and the benchmarks run as a program: the NativeAOT
/// binary (<c>artifacts/lguest/lguest</c>, which the cake LauncherBinary target publishes before the Linux
/// layer) when it is there and no launcher source is newer, else <c>dotnet Lguest.Cli.dll</c> from this
/// test build's own output. <see cref="Description"/> says which and why, for the test output.
/// </summary>
/// <remarks>
/// The NativeAOT binary matters inside the bed: in a TCG L1 it starts in about 0.1 s, <c>dotnet
/// Lguest.Cli.dll</c> in several seconds. <c>LGUEST_LAUNCHER=/path/to/lguest</c> (or a Lguest.Cli.dll)
/// chooses another launcher outright. The file depends on nothing but the BCL, so a benchmark project can
/// compile it in as a linked file.
/// </remarks>
public sealed class LauncherBinary
{
    /// <summary>The environment variable naming a launcher to use instead of the resolution above.</summary>
    public const string OverrideVariable = "LGUEST_LAUNCHER";

    /// <summary>The folders (under the repository root) whose files the NativeAOT binary is built from.</summary>
    public static readonly IReadOnlyList<string> SourceFolders = ["Lguest.Core", "Lguest.Devices", "Lguest.Cli"];

    private static readonly HashSet<string> SourceExtensions = [".cs", ".csproj", ".props", ".targets", ".json"];

    private static readonly Lazy<LauncherBinary> Resolved = new(Resolve);

    private LauncherBinary(string fileName, IReadOnlyList<string> leadingArguments, bool isNativeAot, string description)
    {
        FileName = fileName;
        LeadingArguments = leadingArguments;
        IsNativeAot = isNativeAot;
        Description = description;
    }

    /// <summary>The launcher for this test run (resolved once).</summary>
    public static LauncherBinary Current => Resolved.Value;

    /// <summary>The program to start: the NativeAOT binary, or the dotnet host.</summary>
    public string FileName { get; }

    /// <summary>Arguments before lguest's own: none, or the path of Lguest.Cli.dll for the dotnet host.</summary>
    public IReadOnlyList<string> LeadingArguments { get; }

    /// <summary>Whether <see cref="FileName"/> is a NativeAOT lguest.</summary>
    public bool IsNativeAot { get; }

    /// <summary>One line for the test output: which launcher, and why that one.</summary>
    public string Description { get; }

    /// <summary>The launcher as the start of a /bin/sh command line (absolute paths, quoted).</summary>
    public string ShellCommand => string.Join(' ', new[] { FileName }.Concat(LeadingArguments).Select(Quote));

    /// <summary>A /bin/sh command line running the launcher with <paramref name="arguments"/>.</summary>
    public string ShellCommandWith(IEnumerable<string> arguments) =>
        string.Join(' ', new[] { ShellCommand }.Concat(arguments.Select(Quote)));

    /// <summary>A start info for the launcher with <paramref name="arguments"/>; redirections are the caller's.</summary>
    public ProcessStartInfo CreateStartInfo(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(FileName) { UseShellExecute = false };
        foreach (string argument in LeadingArguments.Concat(arguments))
            start.ArgumentList.Add(argument);
        return start;
    }

    /// <summary>
    /// The newest file the NativeAOT binary is built from (sources, project files, the repository's build
    /// settings), or null when none is found; bin/ and obj/ are outputs, not sources. build.cake's
    /// LauncherBinary target applies the same rule.
    /// </summary>
    public static FileInfo? NewestSource(string repositoryRoot)
    {
        IEnumerable<string> files = SourceFolders
            .Select(folder => Path.Combine(repositoryRoot, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            .Where(file => SourceExtensions.Contains(Path.GetExtension(file)) && !IsBuildOutput(repositoryRoot, file))
            .Concat(new[] { "Directory.Build.props", "Directory.Packages.props", "global.json" }
                .Select(name => Path.Combine(repositoryRoot, name))
                .Where(File.Exists));
        return files.Select(file => new FileInfo(file)).MaxBy(file => file.LastWriteTimeUtc);
    }

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static bool IsBuildOutput(string root, string file)
    {
        string[] parts = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar);
        return parts.Length > 2 && parts[1] is "bin" or "obj";
    }

    private static LauncherBinary Resolve() =>
        Resolve(Environment.GetEnvironmentVariable(OverrideVariable), RepositoryRoot(), AppContext.BaseDirectory, DotnetHost());

    /// <summary>
    /// The resolution rule, on explicit inputs: <paramref name="chosen"/> (the override, may be null), the
    /// repository root (null when none was found), the folder holding the test build's Lguest.Cli.dll,
    /// and the dotnet host to run it with.
    /// </summary>
    internal static LauncherBinary Resolve(string? chosen, string? root, string buildOutput, string dotnet)
    {
        string cli = Path.Combine(buildOutput, "Lguest.Cli.dll");
        if (!string.IsNullOrEmpty(chosen))
        {
            string path = Path.GetFullPath(chosen);
            return path.EndsWith(".dll", StringComparison.Ordinal)
                ? new LauncherBinary(dotnet, [path], false, $"dotnet {path} ({OverrideVariable})")
                : new LauncherBinary(path, [], true, $"{path} ({OverrideVariable})");
        }

        string why;
        if (root is null)
        {
            why = $"no repository root (Lguest.NET.sln) above {buildOutput}";
        }
        else
        {
            var binary = new FileInfo(Path.Combine(root, "artifacts", "lguest", "lguest"));
            FileInfo? newest = binary.Exists ? NewestSource(root) : null;
            if (!binary.Exists)
                why = $"no NativeAOT binary at {binary.FullName}";
            else if (newest is not null && newest.LastWriteTimeUtc > binary.LastWriteTimeUtc)
                why = $"the NativeAOT binary {binary.FullName} is older than {Path.GetRelativePath(root, newest.FullName)}";
            else
                return new LauncherBinary(binary.FullName, [], true, $"NativeAOT {binary.FullName}");
        }
        return new LauncherBinary(dotnet, [cli], false,
            $"dotnet {cli} ({why}; `dotnet cake --target=LauncherBinary` builds it)");
    }

    /// <summary>The dotnet host by absolute path: the bed's L1 runs commands with a minimal PATH.</summary>
    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
            return host;
        string? process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet")
            return process;
        return "dotnet";
    }

    private static string? RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Lguest.NET.sln")))
                return directory.FullName;
        }
        return null;
    }
}
