using System.Diagnostics;

namespace Lguest.Tests.Support;

/// <summary>Guests built with this host's gcc: the probe (Guests/Probe/build.sh) and tiny PVH programs.</summary>
internal static class GuestPrograms
{
    private static readonly Lazy<(string? Path, string Reason)> s_probe = new(BuildProbe);

    /// <summary>The probe guest's ELF; ignores the test when it cannot be built.</summary>
    public static string Probe => s_probe.Value.Path ?? Ignore(s_probe.Value.Reason);

    /// <summary>
    /// A 32-bit PVH ELF whose entry runs <paramref name="body"/> (GNU assembler, 32-bit), linked at 1 MiB.
    /// Ignores the test when gcc cannot build it.
    /// </summary>
    public static string Pvh(string name, string body)
    {
        string dir = Path.Combine(TestKernel.Cache, "test-guests");
        Directory.CreateDirectory(dir);
        string source = Path.Combine(dir, name + ".S"), elf = Path.Combine(dir, name + ".elf"), script = Path.Combine(dir, "pvh.ld");
        // Everything at 1 MiB and up: the loader refuses segments in the boot area below it.
        File.WriteAllText(script, "ENTRY(start)\nSECTIONS {\n . = 0x100000;\n .text : { *(.text) }\n .note : { *(.note.Xen) }\n /DISCARD/ : { *(.note.GNU-stack) }\n}\n");
        File.WriteAllText(source, $$"""
            	.section .note.Xen, "a"
            	.p2align 2
            	.long 4, 4, 18           /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
            	.asciz "Xen"
            	.long start
            	.text
            	.code32
            	.globl start
            start:
            {{body}}
            	.section .note.GNU-stack, "", @progbits
            """);
        (int rc, string output) = Run("gcc", "-m32", "-nostdlib", "-static", "-no-pie", "-Wl,-m,elf_i386", "-Wl,-n", "-Wl,-T," + script,
            "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments", "-o", elf, source);
        if (rc != 0)
            Assert.Ignore($"gcc cannot build a 32-bit guest here: {output}");
        return elf;
    }

    private static (string?, string) BuildProbe()
    {
        string script = Path.Combine(RepositoryRoot(), "Lguest.Tests", "Guests", "Probe", "build.sh");
        // One directory per version of the sources (build.sh --cached): the cache is shared by every
        // worktree's test runs, and one run must not replace the ELF another is about to boot with a
        // different probe. Built only when missing (the Guests target builds it before the tests).
        (int rc, string output) = Run("bash", script, "--cached");
        string elf = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(line => line.EndsWith("/probe.elf", StringComparison.Ordinal)) ?? "";
        return rc == 0 && File.Exists(elf) ? (elf, "") : (null, $"the probe guest did not build: {output}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lguest.NET.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("the repository root (Lguest.NET.sln) is not above the test binaries");
    }

    private static (int, string) Run(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in args)
                start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    private static string Ignore(string reason)
    {
        Assert.Ignore(reason);
        return "";
    }
}
