namespace Lguest.Tests.Support;

/// <summary>Which launcher the tests and the bed run: the NativeAOT binary only when no source is newer.</summary>
public class LauncherBinaryTests
{
    private static readonly DateTime Published = new(2025, 1, 2, 12, 0, 0, DateTimeKind.Utc);

    [Test]
    public void The_NativeAOT_binary_is_chosen_when_no_source_is_newer()
    {
        using var repository = new FakeRepository();
        string binary = repository.File("artifacts/lguest/lguest", Published);
        repository.File("Lguest.Core/Memory/GuestMemory.cs", Published.AddMinutes(-1));

        LauncherBinary launcher = LauncherBinary.Resolve(null, repository.Root, "/build", "/usr/bin/dotnet");

        Assert.Multiple(() =>
        {
            Assert.That(launcher.IsNativeAot, Is.True, launcher.Description);
            Assert.That(launcher.FileName, Is.EqualTo(binary));
            Assert.That(launcher.LeadingArguments, Is.Empty);
        });
    }

    [Test]
    public void A_newer_source_makes_the_tests_fall_back_to_the_build_output_naming_the_file()
    {
        using var repository = new FakeRepository();
        repository.File("artifacts/lguest/lguest", Published);
        repository.File("Lguest.Cli/RunCommand.cs", Published.AddMinutes(1));

        LauncherBinary launcher = LauncherBinary.Resolve(null, repository.Root, "/build", "/usr/bin/dotnet");

        Assert.Multiple(() =>
        {
            Assert.That(launcher.IsNativeAot, Is.False);
            Assert.That(launcher.FileName, Is.EqualTo("/usr/bin/dotnet"));
            Assert.That(launcher.LeadingArguments, Is.EqualTo(new[] { "/build/Lguest.Cli.dll" }));
            Assert.That(launcher.Description, Does.Contain("older than Lguest.Cli/RunCommand.cs"));
        });
    }

    [Test]
    public void Build_outputs_and_files_that_are_not_sources_do_not_make_the_binary_stale()
    {
        using var repository = new FakeRepository();
        repository.File("artifacts/lguest/lguest", Published);
        repository.File("Lguest.Core/bin/Release/net10.0/Lguest.Core.dll", Published.AddMinutes(1));
        repository.File("Lguest.Core/obj/project.assets.json", Published.AddMinutes(1));
        repository.File("Lguest.Cli/README.md", Published.AddMinutes(1));
        repository.File("Lguest.Tests/Integration/LguestInBedTests.cs", Published.AddMinutes(1));

        LauncherBinary launcher = LauncherBinary.Resolve(null, repository.Root, "/build", "/usr/bin/dotnet");

        Assert.That(launcher.IsNativeAot, Is.True, launcher.Description);
    }

    [Test]
    public void The_repository_build_settings_count_as_sources()
    {
        using var repository = new FakeRepository();
        repository.File("artifacts/lguest/lguest", Published);
        repository.File("Directory.Packages.props", Published.AddMinutes(1));

        LauncherBinary launcher = LauncherBinary.Resolve(null, repository.Root, "/build", "/usr/bin/dotnet");

        Assert.That(launcher.Description, Does.Contain("older than Directory.Packages.props"));
    }

    [Test]
    public void Without_the_binary_the_tests_run_dotnet_Lguest_Cli_dll_and_say_why()
    {
        using var repository = new FakeRepository();

        LauncherBinary launcher = LauncherBinary.Resolve(null, repository.Root, "/build", "/usr/bin/dotnet");

        Assert.Multiple(() =>
        {
            Assert.That(launcher.IsNativeAot, Is.False);
            Assert.That(launcher.Description, Does.Contain("no NativeAOT binary at").And.Contain("--target=LauncherBinary"));
            Assert.That(launcher.ShellCommand, Is.EqualTo("'/usr/bin/dotnet' '/build/Lguest.Cli.dll'"));
        });
    }

    [Test]
    public void LGUEST_LAUNCHER_names_the_launcher_outright_a_dll_through_the_dotnet_host()
    {
        using var repository = new FakeRepository();
        repository.File("artifacts/lguest/lguest", Published);

        LauncherBinary binary = LauncherBinary.Resolve("/opt/lguest/lguest", repository.Root, "/build", "/usr/bin/dotnet");
        LauncherBinary dll = LauncherBinary.Resolve("/opt/lguest/Lguest.Cli.dll", repository.Root, "/build", "/usr/bin/dotnet");

        Assert.Multiple(() =>
        {
            Assert.That(binary.ShellCommand, Is.EqualTo("'/opt/lguest/lguest'"));
            Assert.That(dll.ShellCommand, Is.EqualTo("'/usr/bin/dotnet' '/opt/lguest/Lguest.Cli.dll'"));
        });
    }

    [Test]
    public void Shell_command_lines_quote_every_word()
    {
        LauncherBinary launcher = LauncherBinary.Resolve("/opt/it's here/lguest", null, "/build", "dotnet");

        string command = launcher.ShellCommandWith(["256", "console=ttyS0 quiet"]);

        Assert.That(command, Is.EqualTo("'/opt/it'\\''s here/lguest' '256' 'console=ttyS0 quiet'"));
    }

    /// <summary>A repository-shaped folder whose files get chosen modification times.</summary>
    private sealed class FakeRepository : IDisposable
    {
        private readonly TemporaryFolder _folder = new();

        public string Root => _folder.Path;

        public string File(string relative, DateTime modified)
        {
            string path = Path.Combine(Root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            System.IO.File.WriteAllText(path, "");
            System.IO.File.SetLastWriteTimeUtc(path, modified);
            return path;
        }

        public void Dispose() => _folder.Dispose();
    }
}
