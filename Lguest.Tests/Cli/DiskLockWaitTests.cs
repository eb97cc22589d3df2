using Lguest.Cli;
using Lguest.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Cli;

/// <summary>
/// A restore waits a bounded while for a disk image's lock (a launcher killed just before lets go of it when its
/// io_uring is torn down): it goes on once the lock is free, gives up at the limit, and leaves every other trouble
/// to the device's own open. flock's locks belong to open file descriptions, so a second open in this process
/// conflicts as another process's would.
/// </summary>
public class DiskLockWaitTests
{
    private TemporaryFolder _folder = null!;
    private string _image = null!;

    [SetUp]
    public void SetUp()
    {
        _folder = new TemporaryFolder();
        _image = Path.Combine(_folder.Path, "disk.img");
        File.WriteAllBytes(_image, new byte[4096]);
    }

    [TearDown]
    public void TearDown() => _folder.Dispose();

    private SafeFileHandle Lock() => File.OpenHandle(_image, FileMode.Open, FileAccess.ReadWrite, FileShare.None);

    [Test]
    public void A_free_image_is_not_waited_for()
    {
        int said = 0;
        Assert.That(DiskLockWait.WaitFor(_image, readOnly: false, TimeSpan.FromSeconds(5), () => said++), Is.True);
        Assert.That(said, Is.Zero);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_lock_let_go_during_the_wait_is_taken_after_one_line(bool readOnly)
    {
        SafeFileHandle held = Lock();
        int said = 0;
        bool free = DiskLockWait.WaitFor(_image, readOnly, TimeSpan.FromSeconds(30), () =>
        {
            said++;
            // Let go once the wait has begun, as the killed launcher's teardown ends.
            ThreadPool.QueueUserWorkItem(_ =>
            {
                Thread.Sleep(200);
                held.Dispose();
            });
        });
        Assert.That(free, Is.True);
        Assert.That(said, Is.EqualTo(1));
        using SafeFileHandle after = Lock(); // the lock is free now: the device's open takes it
    }

    [Test]
    public void A_lock_held_past_the_limit_ends_the_wait()
    {
        using SafeFileHandle held = Lock();
        int said = 0;
        Assert.That(DiskLockWait.WaitFor(_image, readOnly: false, TimeSpan.FromMilliseconds(200), () => said++), Is.False);
        Assert.That(said, Is.EqualTo(1));
    }

    [Test]
    public void A_missing_image_is_left_to_the_device()
    {
        int said = 0;
        Assert.That(DiskLockWait.WaitFor(Path.Combine(_folder.Path, "gone.img"), readOnly: false, TimeSpan.FromSeconds(5), () => said++), Is.True);
        Assert.That(said, Is.Zero);
    }

    [Test]
    public void A_restore_says_it_waits_in_one_line_naming_the_disk()
    {
        SafeFileHandle held = Lock();
        // The line is written as the wait begins; the lock is let go of then, as the killed launcher's teardown ends.
        using var error = new WhenWritten(() => ThreadPool.QueueUserWorkItem(_ =>
        {
            Thread.Sleep(200);
            held.Dispose();
        }));
        Assert.That(RunArguments.TryParse(["--restore=/nowhere", $"--block={_image}"], out RunArguments arguments, out string? parseError), Is.True, parseError);
        DiskLockWait.ForDisks(arguments, error);
        string[] lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith($"lguest: disk image '{_image}' is locked by another process; waiting up to 5 s"));
        using SafeFileHandle after = Lock();
    }

    private sealed class WhenWritten(Action written) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            written();
        }
    }
}
