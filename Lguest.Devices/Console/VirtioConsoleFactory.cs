using System.IO.Pipelines;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Devices;

/// <summary>
/// Makes the console for each boot over one host-side pipe pair that lives as long as the container:
/// input typed during a reboot waits for the next boot's console, and output is never reordered.
/// </summary>
internal sealed class VirtioConsoleFactory(VirtioConsoleOptions options, ILogger<VirtioConsoleDevice> logger) : IVirtioDeviceFactory, IDisposable
{
    private readonly Lock _lock = new();
    private ConsoleInputPump? _pump;
    private PipeReader? _input;
    private PipeWriter? _output;

    public VirtioConsoleOptions Options => options;

    public IVirtioDevice Create(GuestMemory memory)
    {
        lock (_lock)
        {
            if (_input is null)
            {
                if (options.InputReader is { } reader)
                {
                    _input = reader;
                }
                else
                {
                    _pump = new ConsoleInputPump(options.Input ?? StandardStream(0, FileAccess.Read));
                    _input = _pump.Reader;
                }
            }
            _output ??= options.OutputWriter
                ?? PipeWriter.Create(options.Output ?? StandardStream(1, FileAccess.Write), new StreamPipeWriterOptions(leaveOpen: true));
            return new VirtioConsoleDevice(memory, _input, _output, options, logger);
        }
    }

    // Plain reads and writes of fd 0 or 1: System.Console's terminal stream echoes and line-edits input
    // itself, which the guest's shell must do instead (the CLI found this under tmux).
    private static FileStream StandardStream(int fd, FileAccess access) =>
        new(new SafeFileHandle(fd, ownsHandle: false), access, bufferSize: 0);

    public void Dispose()
    {
        lock (_lock)
        {
            _pump?.Dispose();
            // Our own stream writer: flush what is left (the streams themselves belong to the caller).
            if (_output is not null && options.OutputWriter is null)
                _output.Complete();
            _pump = null;
            _output = null;
            _input = null;
        }
    }
}
