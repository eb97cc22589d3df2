using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Lguest.Seccomp;

namespace Lguest.Tests.Seccomp;

/// <summary>
/// The SIGSYS handler's machine code is what its source assembles to, and its table names every call number
/// (the handler itself runs in the Kvm layer's SeccompCommandTests, where a call outside the policy ends lguest).
/// </summary>
public class SigsysHandlerTests
{
    [Test]
    public void The_embedded_bytes_are_what_SigsysHandler_S_assembles_to()
    {
        string source = Path.Combine(TestContext.CurrentContext.TestDirectory, "..", "..", "..", "..", "Lguest.Core", "Seccomp", "SigsysHandler.S");
        Assert.That(File.Exists(source), Is.True, source);
        string work = Directory.CreateTempSubdirectory("sigsys-").FullName;
        try
        {
            string obj = Path.Combine(work, "h.o"), bin = Path.Combine(work, "h.bin");
            Run("gcc", "-c", source, "-o", obj);
            Run("objcopy", "-O", "binary", "-j", ".text", obj, bin);
            Assert.That(File.ReadAllBytes(bin), Is.EqualTo(SigsysHandler.Code.ToArray()),
                "SigsysHandler.cs's bytes are stale: paste `objcopy -O binary -j .text` of the assembled SigsysHandler.S");
            Assert.That(SigsysHandler.Code[SigsysHandler.TableAddressOffset - 2], Is.EqualTo(0x49), "movabs r9, imm64 (REX.WB)");
            Assert.That(SigsysHandler.Code[SigsysHandler.TableAddressOffset - 1], Is.EqualTo(0xB9));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Test]
    public unsafe void The_table_gives_each_call_number_its_line_start_and_the_last_entry_to_the_rest()
    {
        long* table = (long*)SigsysHandler.BuildTable();
        try
        {
            Assert.That(table[0], Is.EqualTo(SigsysHandler.Entries));
            Assert.That(Line(table, 1), Is.EqualTo(SigsysHandler.Suffix));
            Assert.That(Line(table, 3 + 2 * 41), Is.EqualTo("lguest: seccomp: socket"));
            Assert.That(Line(table, 3 + 2 * 99), Is.EqualTo("lguest: seccomp: sysinfo"));
            Assert.That(Line(table, 3 + 2 * (SigsysHandler.Entries - 1)), Does.StartWith("lguest: seccomp: syscall 511 or above"));
        }
        finally
        {
            NativeMemory.Free(table);
        }
    }

    private static unsafe string Line(long* table, int field) =>
        Encoding.ASCII.GetString((byte*)table[field], (int)table[field + 1]);

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"{program}: {error}");
    }
}
