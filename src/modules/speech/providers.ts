import type { Config } from "../../env";
import { ProviderUnavailable, Unprocessable } from "../../lib/errors";
import { elevenLabsSpeech } from "../../providers/elevenlabs";
import { openaiSpeech } from "../../providers/openai-speech";
import type { SpeechProvider, SpeechProviderName, TtsFormat } from "../../providers/speech";

/** The adapter of `name`, or 503 naming the variable to set when it has no key. */
export function configuredSpeechProvider(config: Config, name: SpeechProviderName): SpeechProvider {
  const provider = name === "elevenlabs" ? elevenLabsSpeech(config) : openaiSpeech(config);
  if (!provider.configured) throw new ProviderUnavailable(provider.keyVariable);
  return provider;
}

/** 422 on `path` when the provider cannot produce `format`, listing what it can. */
export function assertFormatOffered(provider: SpeechProvider, format: TtsFormat, path: string): void {
  if (!provider.formats.includes(format)) {
    throw new Unprocessable([{ path, message: `${provider.name} does not offer ${format}; choose one of ${provider.formats.join(", ")}` }]);
  }
}
