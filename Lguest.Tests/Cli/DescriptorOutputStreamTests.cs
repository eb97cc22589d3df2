using System.Runtime.InteropServices;
using System.Text;
using Lguest.Cli;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Cli;

/// <summary>
/// The console's output stream (fd 1) shares its file's offset with stderr: with <c>lguest ... &gt; log 2&gt;&amp;1</c>
/// every line of the guest and of lguest lands in the file, in the order written, none over another.
/// </summary>
public partial class DescriptorOutputStreamTests
{
    [Test]
    public void Guest_output_and_lguests_own_lines_on_one_file_are_all_kept_in_order()
    {
        string path = Path.GetTempFileName();
        try
        {
            using (SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.Write))
            {
                int fd = (int)file.DangerousGetHandle();
                using var console = new DescriptorOutputStream(fd);
                var expected = new StringBuilder();
                for (int i = 1; i <= 50; i++)
                {
                    // The guest's bytes come a few at a time (as the UART's drain hands them on), lguest's lines whole.
                    string guest = $"GUEST-DD {i}\r\n";
                    console.Write(Encoding.ASCII.GetBytes(guest[..4]));
                    console.Write(Encoding.ASCII.GetBytes(guest[4..]));
                    expected.Append(guest);
                    if (i % 7 == 0)
                    {
                        string own = $"lguest: line {i}\n";
                        WriteOther(fd, own);
                        expected.Append(own);
                    }
                }
                console.WriteByte((byte)'$');
                expected.Append('$');
                Assert.That(File.ReadAllText(path), Is.EqualTo(expected.ToString()));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void A_file_opened_for_appending_gets_the_output_at_its_end()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "before\n");
            // As a shell's >> opens it (.NET's FileMode.Append seeks to the end instead of asking for O_APPEND).
            int fd = Open(path, OWronly | OAppend);
            Assert.That(fd, Is.GreaterThanOrEqualTo(0));
            try
            {
                using var console = new DescriptorOutputStream(fd);
                console.Write("guest\n"u8);
                File.AppendAllText(path, "another writer\n");
                console.Write("guest again\n"u8);
            }
            finally
            {
                _ = Close(fd);
            }
            Assert.That(File.ReadAllText(path), Is.EqualTo("before\nguest\nanother writer\nguest again\n"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void A_write_the_descriptor_refuses_is_an_IOException()
    {
        using var console = new DescriptorOutputStream(-1);
        Assert.That(() => console.Write("x"u8), Throws.InstanceOf<IOException>().With.Message.Contains("descriptor -1"));
    }

    // What stderr's writer does: write(2) at the open file's offset.
    private static unsafe void WriteOther(int fd, string text)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        fixed (byte* p = bytes)
            Assert.That((int)Write(fd, p, (nuint)bytes.Length), Is.EqualTo(bytes.Length));
    }

    private const int OWronly = 1, OAppend = 0x400; // <asm-generic/fcntl.h>

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, byte* buffer, nuint count);
}
