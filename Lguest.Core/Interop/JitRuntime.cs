using System.Runtime;

namespace Lguest.Interop;

/// <summary>
/// Whether this process runs on the JIT runtime (CoreCLR: an embedding application, or <c>dotnet Lguest.Cli.dll</c>)
/// rather than as the NativeAOT <c>lguest</c>. Not <c>RuntimeFeature.IsDynamicCodeSupported</c>: the CLI's
/// <c>PublishAot</c> switches that off in its JIT build's runtimeconfig.json too.
/// </summary>
internal static class JitRuntime
{
    /// <summary>True when methods were compiled at run time (by the time anyone asks, the JIT has compiled hundreds).</summary>
    public static bool IsRunning => JitInfo.GetCompiledMethodCount() > 0;
}
